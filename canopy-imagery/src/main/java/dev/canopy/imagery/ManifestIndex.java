package dev.canopy.imagery;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.canopy.api.BoundingBox;
import java.io.IOException;
import java.util.List;

/**
 * The small JSON file ({@code manifest/_index.json}) that lists a manifest's Parquet parts with
 * their row counts and bounding boxes, so a driver can plan work over 100 million rows, or skip
 * parts outside an area, without opening any part.
 */
public record ManifestIndex(int formatVersion, String crs, List<String> classes, long rows, List<Part> parts) {
    public static final int FORMAT_VERSION = 1;
    public static final String CRS = "OGC:CRS84";
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .registerModule(new com.fasterxml.jackson.datatype.jsr310.JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

    /** One Parquet file: its key relative to the survey root, first row number, row count and extent. */
    public record Part(String key, long firstRow, long rows, double minLon, double minLat, double maxLon, double maxLat) {
        public BoundingBox bbox() {
            return new BoundingBox(minLon, minLat, maxLon, maxLat);
        }
    }

    public byte[] toJson() {
        try {
            return JSON.writeValueAsBytes(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ManifestIndex fromJson(byte[] json) {
        try {
            return JSON.readValue(json, ManifestIndex.class);
        } catch (IOException e) {
            throw new ManifestException("manifest.corrupt_index", "manifest index is not valid JSON: " + e.getMessage(),
                    "regenerate the manifest", e);
        }
    }
}
