package dev.canopy.imagery;

import dev.canopy.api.BoundingBox;
import java.time.Instant;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/** The Parquet schema of a manifest part and the mapping between rows and Parquet groups. */
final class ManifestSchema {
    static final String COVER_PREFIX = "cover_";
    static final MessageType SCHEMA = MessageTypeParser.parseMessageType(schemaText());
    private static final SimpleGroupFactory FACTORY = new SimpleGroupFactory(SCHEMA);

    private ManifestSchema() { }

    private static String schemaText() {
        StringBuilder s = new StringBuilder("message canopy_manifest {\n");
        s.append("  required binary id (STRING);\n");
        s.append("  required binary uri (STRING);\n");
        s.append("  required binary key (STRING);\n");
        s.append("  required int64 tile_row;\n");
        s.append("  required int64 tile_col;\n");
        s.append("  required double min_lon;\n  required double min_lat;\n  required double max_lon;\n  required double max_lat;\n");
        s.append("  required binary footprint;\n");
        s.append("  required int64 capture_time (TIMESTAMP(MILLIS,true));\n");
        s.append("  required binary dominant_class (STRING);\n");
        s.append("  required int32 label;\n");
        for (LandCover c : LandCover.values()) s.append("  required float ").append(COVER_PREFIX).append(c.label()).append(";\n");
        return s.append("}\n").toString();
    }

    static Group toGroup(ManifestRow r) {
        Group g = FACTORY.newGroup()
                .append("id", r.id())
                .append("uri", r.uri())
                .append("key", r.key())
                .append("tile_row", r.row())
                .append("tile_col", r.col())
                .append("min_lon", r.bbox().minX())
                .append("min_lat", r.bbox().minY())
                .append("max_lon", r.bbox().maxX())
                .append("max_lat", r.bbox().maxY())
                .append("footprint", Binary.fromConstantByteArray(r.footprintWkb()))
                .append("capture_time", r.captureTime().toEpochMilli())
                .append("dominant_class", r.dominantClass())
                .append("label", r.label());
        for (LandCover c : LandCover.values()) g.append(COVER_PREFIX + c.label(), r.cover()[c.ordinal()]);
        return g;
    }

    static ManifestRow fromGroup(Group g) {
        float[] cover = new float[LandCover.values().length];
        for (LandCover c : LandCover.values()) cover[c.ordinal()] = g.getFloat(COVER_PREFIX + c.label(), 0);
        return new ManifestRow(
                g.getString("id", 0), g.getString("uri", 0), g.getString("key", 0),
                g.getLong("tile_row", 0), g.getLong("tile_col", 0),
                new BoundingBox(g.getDouble("min_lon", 0), g.getDouble("min_lat", 0), g.getDouble("max_lon", 0), g.getDouble("max_lat", 0)),
                g.getBinary("footprint", 0).getBytes(),
                Instant.ofEpochMilli(g.getLong("capture_time", 0)),
                g.getString("dominant_class", 0), g.getInteger("label", 0), cover);
    }
}
