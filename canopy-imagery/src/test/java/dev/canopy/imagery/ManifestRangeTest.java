package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.BoundingBox;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.LocalInputFile;

/** A shard's rows, read by skipping whole row groups, are exactly the rows written at those positions. */
class ManifestRangeTest {
    static final int ROWS = 3_000;
    static Path dir;
    static FileObjectStore store;
    static Manifest manifest;
    static ManifestIndex.Part part;

    @BeforeContainer
    static void writeAManifestOfManySmallRowGroups() throws Exception {
        dir = java.nio.file.Files.createTempDirectory("canopy-manifest-range");
        store = new FileObjectStore(dir);
        try (ManifestWriter w = new ManifestWriter(store, ROWS, Map.of()).withRowGroupBytes(16 * 1024)) {
            for (int i = 0; i < ROWS; i++) {
                w.write(new ManifestRow("t" + i, "file:///tiles/t" + i + ".jpg", "tiles/t" + i + ".jpg", i / 50, i % 50,
                        new BoundingBox(i, 0, i + 1, 1), new byte[] {1, 2, 3}, Instant.EPOCH.plusSeconds(i), "grass", 0, new float[] {1f, 0f, 0f, 0f, 0f}));
            }
        }
        manifest = Manifest.open(store);
        part = manifest.index().parts().get(0);
        try (ParquetFileReader r = ParquetFileReader.open(new LocalInputFile(store.path(part.key())))) {
            assertThat(r.getRowGroups()).as("the test needs several row groups").hasSizeGreaterThan(5);
        }
    }

    @AfterContainer
    static void cleanUp() throws Exception {
        store.close();
        dev.canopy.storage.LocalFiles.deleteQuietly(dir);
    }

    /** Every row-group boundary and its neighbours, as skips and as ends: where an off-by-one would show. */
    @net.jqwik.api.Example
    void rangesStartingAndEndingAtEveryRowGroupBoundary() throws Exception {
        List<Long> boundaries = new java.util.ArrayList<>();
        long at = 0;
        try (ParquetFileReader r = ParquetFileReader.open(new LocalInputFile(store.path(part.key())))) {
            for (var g : r.getRowGroups()) boundaries.add(at += g.getRowCount());
        }
        for (long b : boundaries) {
            for (long skip = Math.max(0, b - 1); skip <= b + 1; skip++) {
                for (long limit : new long[] {0, 1, 2, 50, ROWS}) {
                    List<String> expected = java.util.stream.LongStream.range(Math.min(skip, ROWS), Math.min(ROWS, skip + limit)).mapToObj(i -> "t" + i).toList();
                    try (Stream<ManifestRow> range = manifest.rows(part, skip, limit)) {
                        assertThat(range.map(ManifestRow::id).toList()).as("skip %d limit %d", skip, limit).isEqualTo(expected);
                    }
                }
            }
        }
    }

    @Property(tries = 60)
    void aRangeEqualsTheFullScanAtTheSamePositions(@ForAll @IntRange(min = 0, max = ROWS + 10) int skip, @ForAll @IntRange(min = 0, max = ROWS) int limit) {
        List<String> expected = java.util.stream.IntStream.range(Math.min(skip, ROWS), (int) Math.min(ROWS, (long) skip + limit)).mapToObj(i -> "t" + i).toList();
        try (Stream<ManifestRow> range = manifest.rows(part, skip, limit)) {
            assertThat(range.map(ManifestRow::id).toList()).isEqualTo(expected);
        }
    }
}
