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

    /**
     * An index of {@code totalRows} rows whose parts repeat this index's parts, cycling (the last one
     * cut to fit). For scale tests and benchmarks: planning and running over a 100-million-row
     * manifest without writing 100 million rows. Tiles repeat, so ids repeat too.
     */
    public ManifestIndex repeated(long totalRows) {
        if (parts.stream().mapToLong(Part::rows).sum() == 0) throw new IllegalStateException("an empty manifest cannot be repeated");
        java.util.List<Part> out = new java.util.ArrayList<>();
        long first = 0;
        for (int i = 0; first < totalRows; i = (i + 1) % parts.size()) {
            Part p = parts.get(i);
            long n = Math.min(p.rows(), totalRows - first);
            out.add(new Part(p.key(), first, n, p.minLon(), p.minLat(), p.maxLon(), p.maxLat()));
            first += n;
        }
        return new ManifestIndex(formatVersion, crs, classes, totalRows, out);
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
