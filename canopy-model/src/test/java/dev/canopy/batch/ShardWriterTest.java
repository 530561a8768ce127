package dev.canopy.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.BoundingBox;
import dev.canopy.api.Json;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Classification;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.io.LocalInputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.io.WKBWriter;

/** The commit protocol: the shard, then its marker; nothing at all without a commit. */
class ShardWriterTest {
    @TempDir
    Path tmp;
    static final List<String> CLASSES = List.of("a", "b");

    static ManifestRow row(int i) {
        GeometryFactory g = new GeometryFactory();
        byte[] wkb = new WKBWriter().write(g.createPolygon(new Coordinate[] {new Coordinate(i, 0), new Coordinate(i + 1, 0),
                new Coordinate(i + 1, 1), new Coordinate(i, 1), new Coordinate(i, 0)}));
        return new ManifestRow("t" + i, "file:///t" + i + ".jpg", "t" + i + ".jpg", 0, i, new BoundingBox(i, 0, i + 1, 1), wkb,
                Instant.parse("2026-01-01T00:00:00Z"), "a", 0, new float[] {1, 0});
    }

    static long rows(Path parquet) throws Exception {
        long n = 0;
        try (ParquetReader<Group> r = new ParquetReader.Builder<Group>(new LocalInputFile(parquet)) {
            @Override
            protected org.apache.parquet.hadoop.api.ReadSupport<Group> getReadSupport() {
                return new GroupReadSupport();
            }
        }.build()) {
            for (Group g = r.read(); g != null; g = r.read()) n++;
        }
        return n;
    }

    @Test
    void commitWritesTheShardThenTheMarkerNamedByIndex() throws Exception {
        Path out = tmp.resolve("out");
        ShardSpec spec = new ShardSpec(7, "manifest/part-00000.parquet", 0, 3);
        Path[] local = new Path[1];
        try (FileObjectStore store = new FileObjectStore(out); ShardWriter w = new ShardWriter(spec, store, CLASSES, Map.of("k", "v"))) {
            local[0] = w.localFile();
            assertThat(local[0]).exists();
            w.write(InferenceResult.ok(row(0), new Classification(CLASSES, new float[] {0.9f, 0.1f})));
            w.write(InferenceResult.error(row(1), "not found"));
            w.write(InferenceResult.ok(row(2), new Classification(CLASSES, new float[] {0.2f, 0.8f})));
            ShardReport r = w.commit(bytes -> new ShardReport(7, spec.shardKey(), PipelineStats.Snapshot.zero(), bytes, 1.5, false, "jvm", 0, 0, 1));
            assertThat(r.shardBytes()).isEqualTo(Files.size(out.resolve("shards/part-00007.parquet"))).isPositive();
            assertThatThrownBy(() -> w.write(InferenceResult.error(row(3), "x"))).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> w.commit(b -> r)).isInstanceOf(IllegalStateException.class);
        }
        assertThat(rows(out.resolve("shards/part-00007.parquet"))).isEqualTo(3);
        ShardReport marker = Json.read(Files.readAllBytes(out.resolve("_committed/part-00007.json")), ShardReport.class, "marker");
        assertThat(marker.index()).isEqualTo(7);
        assertThat(marker.shardKey()).isEqualTo("shards/part-00007.parquet");
        assertThat(local[0]).doesNotExist(); // the local copy is gone once committed
    }

    @Test
    void aLargeShardIsWrittenInRowGroupsSoTheTaskDoesNotHoldItAllInMemory() throws Exception {
        // about 24 MB of incompressible error text: at Parquet's default 128 MB row group the writer would buffer all of it
        java.util.Random random = new java.util.Random(1);
        byte[] noise = new byte[1500];
        Path file = tmp.resolve("big.parquet");
        int n = 12_000;
        try (PredictionShardWriter w = new PredictionShardWriter(file, CLASSES, Map.of())) {
            for (int i = 0; i < n; i++) {
                random.nextBytes(noise);
                w.write(InferenceResult.error(row(i), java.util.Base64.getEncoder().encodeToString(noise)));
            }
        }
        try (org.apache.parquet.hadoop.ParquetFileReader r = org.apache.parquet.hadoop.ParquetFileReader.open(new LocalInputFile(file))) {
            assertThat(r.getRowGroups()).hasSizeGreaterThanOrEqualTo(2);
            assertThat(r.getRowGroups()).allSatisfy(g -> assertThat(g.getTotalByteSize()).isLessThan(2 * PredictionShardWriter.ROW_GROUP_BYTES));
            assertThat(r.getRecordCount()).isEqualTo(n);
            // ids are unique per row: no dictionary for them (a dictionary would hold a page of them in the heap for nothing)
            var id = r.getRowGroups().get(0).getColumns().stream().filter(c -> c.getPath().toDotString().equals("id")).findFirst().orElseThrow();
            assertThat(id.getEncodings()).doesNotContain(org.apache.parquet.column.Encoding.PLAIN_DICTIONARY, org.apache.parquet.column.Encoding.RLE_DICTIONARY);
        }
    }

    @Test
    void withoutACommitNothingReachesTheStore() throws Exception {
        Path out = tmp.resolve("out");
        ShardSpec spec = new ShardSpec(2, "p", 0, 1);
        try (FileObjectStore store = new FileObjectStore(out)) {
            Path local;
            try (ShardWriter w = new ShardWriter(spec, store, CLASSES, Map.of())) {
                w.write(InferenceResult.error(row(0), "x"));
                local = w.localFile();
            }
            assertThat(local).doesNotExist();
            ShardWriter aborted = new ShardWriter(spec, store, CLASSES, Map.of());
            aborted.write(InferenceResult.error(row(0), "x"));
            aborted.abort();
            aborted.abort();
            assertThatThrownBy(() -> aborted.write(InferenceResult.error(row(1), "y"))).isInstanceOf(IllegalStateException.class);
        }
        assertThat(out.resolve("shards")).doesNotExist();
        assertThat(out.resolve("_committed")).doesNotExist();
    }

    @Test
    void aRetriedAttemptReplacesTheShardWholeUnderTheSameName() throws Exception {
        Path out = tmp.resolve("out");
        ShardSpec spec = new ShardSpec(0, "p", 0, 2);
        try (FileObjectStore store = new FileObjectStore(out)) {
            for (int attempt = 0; attempt < 2; attempt++) {
                try (ShardWriter w = new ShardWriter(spec, store, CLASSES, Map.of())) {
                    w.write(InferenceResult.error(row(0), "attempt " + attempt));
                    w.write(InferenceResult.error(row(1), "attempt " + attempt));
                    w.commit(bytes -> new ShardReport(0, spec.shardKey(), PipelineStats.Snapshot.zero(), bytes, 1, false, "jvm", 0, 0, 1));
                }
            }
        }
        assertThat(rows(out.resolve("shards/part-00000.parquet"))).isEqualTo(2);
        try (var files = Files.list(out.resolve("shards"))) {
            assertThat(files.toList()).hasSize(1);
        }
    }
}
