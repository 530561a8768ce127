package dev.canopy.batch;

import dev.canopy.api.BoundingBox;
import dev.canopy.model.Classification;
import dev.canopy.imagery.ManifestRow;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalOutputFile;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Writes one GeoParquet 1.1 shard of predictions to a local file. The {@code geo} metadata (with
 * the bounding box of the rows actually written) goes into the footer when the file is finished.
 * Not thread-safe: one writer per task.
 */
public final class PredictionShardWriter implements AutoCloseable {
    public static final String PROB_PREFIX = "prob_";
    /**
     * Bytes of encoded rows a writer buffers before it writes them out as a row group: small, so a large job's
     * full groups hold little more than a small job's partial ones (at 4 MB the live heap of a 1,000,000-row job was
     * x1.25 that of a 10,000-row job, at 1 MB x1.12: {@code canopy bench infer-memory}).
     */
    public static final long ROW_GROUP_BYTES = 1L << 20;
    /** Bytes a column buffers before it compresses them into a page. */
    public static final int PAGE_BYTES = 128 << 10;

    private final ParquetWriter<Group> writer;
    private final SimpleGroupFactory factory;
    private final List<String> classes;
    private final Map<String, String> metadata = new HashMap<>();
    private double minX = Double.POSITIVE_INFINITY, minY = Double.POSITIVE_INFINITY;
    private double maxX = Double.NEGATIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
    private long rows;

    public PredictionShardWriter(Path file, List<String> classes, Map<String, String> extraMetadata) {
        this.classes = List.copyOf(classes);
        MessageType schema = schema(classes);
        this.factory = new SimpleGroupFactory(schema);
        this.metadata.putAll(extraMetadata);
        try {
            Files.deleteIfExists(file);
            writer = new Builder(new LocalOutputFile(file), schema, this)
                    .withCompressionCodec(CompressionCodecName.SNAPPY)
                    .withWriteMode(ParquetFileWriter.Mode.OVERWRITE)
                    // a row group is buffered in memory until it is full: at Parquet's default 128 MB a shard of 500,000 rows
                    // would hold its whole output in the heap, so task memory would grow with the shard (and so with the job)
                    .withRowGroupSize(ROW_GROUP_BYTES)
                    // each of the ~17 columns fills a page before compressing it: at the default 1 MB that is up to 17 MB a task
                    .withPageSize(PAGE_BYTES)
                    // dictionaries only where values repeat: for ids, URIs, geometries and probabilities (unique per row) a
                    // dictionary saves nothing and holds up to a page of distinct values per column in the heap before it gives up
                    .withDictionaryEncoding(false)
                    .withDictionaryPageSize(PAGE_BYTES)
                    .withDictionaryEncoding("status", true)
                    .withDictionaryEncoding("error", true)
                    .withDictionaryEncoding("top_class", true)
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open shard " + file, e);
        }
    }

    public static MessageType schema(List<String> classes) {
        StringBuilder s = new StringBuilder("message canopy_predictions {\n");
        s.append("  required binary id (STRING);\n  required binary uri (STRING);\n");
        s.append("  required binary status (STRING);\n  optional binary error (STRING);\n");
        s.append("  optional binary top_class (STRING);\n  optional float top_probability;\n");
        for (String c : classes) s.append("  optional float ").append(PROB_PREFIX).append(c).append(";\n");
        s.append("  required binary ").append(GeoParquet.GEOMETRY_COLUMN).append(";\n");
        s.append("  required group ").append(GeoParquet.BBOX_COLUMN)
                .append(" {\n    required double xmin;\n    required double ymin;\n    required double xmax;\n    required double ymax;\n  }\n");
        s.append("  required int64 capture_time (TIMESTAMP(MILLIS,true));\n");
        return MessageTypeParser.parseMessageType(s.append("}\n").toString());
    }

    public void write(InferenceResult r) {
        ManifestRow row = r.row();
        Group g = factory.newGroup().append("id", row.id()).append("uri", row.uri()).append("status", r.status());
        if (r.error() != null) g.append("error", r.error());
        if (r.isOk()) {
            Classification c = r.classification();
            g.append("top_class", c.topClass()).append("top_probability", c.topProbability());
            for (int i = 0; i < classes.size(); i++) g.append(PROB_PREFIX + classes.get(i), c.probabilities()[i]);
        }
        g.append(GeoParquet.GEOMETRY_COLUMN, Binary.fromConstantByteArray(row.footprintWkb()));
        BoundingBox b = row.bbox();
        g.addGroup(GeoParquet.BBOX_COLUMN).append("xmin", b.minX()).append("ymin", b.minY()).append("xmax", b.maxX()).append("ymax", b.maxY());
        g.append("capture_time", row.captureTime().toEpochMilli());
        minX = Math.min(minX, b.minX());
        minY = Math.min(minY, b.minY());
        maxX = Math.max(maxX, b.maxX());
        maxY = Math.max(maxY, b.maxY());
        try {
            writer.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        rows++;
    }

    public long rows() {
        return rows;
    }

    Map<String, String> finalMetadata() {
        Map<String, String> m = new HashMap<>(metadata);
        m.put(GeoParquet.KEY, GeoParquet.metadata(minX, minY, maxX, maxY));
        return m;
    }

    @Override
    public void close() {
        try {
            writer.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes groups and adds the footer metadata computed from the rows at the end of the write. */
    private static final class GeoWriteSupport extends WriteSupport<Group> {
        private final MessageType schema;
        private final PredictionShardWriter owner;
        private org.apache.parquet.example.data.GroupWriter groupWriter;

        GeoWriteSupport(MessageType schema, PredictionShardWriter owner) {
            this.schema = schema;
            this.owner = owner;
        }

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(schema, new HashMap<>());
        }

        @Override
        public void prepareForWrite(org.apache.parquet.io.api.RecordConsumer recordConsumer) {
            groupWriter = new org.apache.parquet.example.data.GroupWriter(recordConsumer, schema);
        }

        @Override
        public void write(Group record) {
            groupWriter.write(record);
        }

        @Override
        public FinalizedWriteContext finalizeWrite() {
            return new FinalizedWriteContext(owner.finalMetadata());
        }
    }

    private static final class Builder extends ParquetWriter.Builder<Group, Builder> {
        private final MessageType schema;
        private final PredictionShardWriter owner;

        Builder(OutputFile file, MessageType schema, PredictionShardWriter owner) {
            super(file);
            this.schema = schema;
            this.owner = owner;
        }

        @Override
        protected Builder self() {
            return this;
        }

        @Override
        protected WriteSupport<Group> getWriteSupport(Configuration conf) {
            return new GeoWriteSupport(schema, owner);
        }
    }
}
