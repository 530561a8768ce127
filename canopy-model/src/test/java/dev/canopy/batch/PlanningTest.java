package dev.canopy.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.BoundingBox;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Planning from the manifest index only, and shard sizes from a calibration. */
class PlanningTest {
    @TempDir
    Path tmp;

    static ManifestIndex index(long... partRows) {
        List<ManifestIndex.Part> parts = new java.util.ArrayList<>();
        long first = 0;
        for (int i = 0; i < partRows.length; i++) {
            parts.add(new ManifestIndex.Part(String.format("manifest/part-%05d.parquet", i), first, partRows[i], i, 0, i + 1, 1));
            first += partRows[i];
        }
        return new ManifestIndex(1, ManifestIndex.CRS, List.of("a", "b"), first, parts);
    }

    Manifest manifest(ManifestIndex index) {
        FileObjectStore s = new FileObjectStore(tmp.resolve("m-" + System.nanoTime()));
        s.put(ManifestWriter.INDEX, index.toJson());
        return Manifest.open(s);
    }

    @Test
    void shardsCoverEveryRowOncePartByPartAndSkipPartsOutsideTheArea() {
        Manifest m = manifest(index(250, 100, 0, 301));
        List<ShardSpec> plan = InferencePlanner.plan(m, null, 100);
        assertThat(plan).extracting(ShardSpec::count).containsExactly(100L, 100L, 50L, 100L, 100L, 100L, 100L, 1L);
        assertThat(plan).extracting(ShardSpec::skip).containsExactly(0L, 100L, 200L, 0L, 0L, 100L, 200L, 300L);
        assertThat(plan).extracting(ShardSpec::index).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        assertThat(plan.get(3).partKey()).isEqualTo("manifest/part-00001.parquet");
        assertThat(plan.get(7).shardKey()).isEqualTo("shards/part-00007.parquet");
        assertThat(plan.get(7).markerKey()).isEqualTo("_committed/part-00007.json");
        // an area over part 1 only (x in [1, 2])
        List<ShardSpec> area = InferencePlanner.plan(m, new BoundingBox(1.2, 0.2, 1.8, 0.8), 60);
        assertThat(area).extracting(ShardSpec::partKey).containsOnly("manifest/part-00001.parquet");
        assertThat(area).extracting(ShardSpec::count).containsExactly(60L, 40L);
        assertThatThrownBy(() -> InferencePlanner.plan(m, null, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theDigestChangesWithAnyPartOfThePlan() {
        Manifest m = manifest(index(250, 100));
        String d = InferencePlanner.digest(InferencePlanner.plan(m, null, 100));
        assertThat(InferencePlanner.digest(InferencePlanner.plan(m, null, 100))).isEqualTo(d);
        assertThat(InferencePlanner.digest(InferencePlanner.plan(m, null, 99))).isNotEqualTo(d);
        assertThat(InferencePlanner.digest(InferencePlanner.plan(manifest(index(250, 101)), null, 100))).isNotEqualTo(d);
        assertThat(InferencePlanner.digest(List.of(new ShardSpec(0, "k", 0, 5)))).isNotEqualTo(InferencePlanner.digest(List.of(new ShardSpec(0, "k", 1, 5))))
                .isNotEqualTo(InferencePlanner.digest(List.of(new ShardSpec(1, "k", 0, 5))))
                .isNotEqualTo(InferencePlanner.digest(List.of(new ShardSpec(0, "j", 0, 5))));
    }

    /** 100 million rows: planned from 200 index entries, never the rows. */
    @Test
    void aHundredMillionRowIndexPlansIntoFewThousandShards() {
        long[] parts = new long[200];
        java.util.Arrays.fill(parts, 500_000);
        Manifest m = manifest(index(parts));
        List<ShardSpec> plan = InferencePlanner.plan(m, null, 30_000);
        assertThat(plan.stream().mapToLong(ShardSpec::count).sum()).isEqualTo(100_000_000L);
        assertThat(plan).hasSize(200 * 17); // 16 of 30,000 and one of 20,000 per part
    }

    @Test
    void shardsAreSizedToTakeAboutAMinutePerTask() {
        Calibration c = new Calibration(500, 2.0, 250, 40_000);
        // 250 tiles/s shared by 2 tasks: 125 per task, 60 s -> 7,500 rows
        assertThat(c.rowsPerShard(2, Duration.ofMinutes(1))).isEqualTo(7_500);
        assertThat(c.rowsPerShard(0, Duration.ofMinutes(1))).isEqualTo(15_000); // at least one task
        assertThat(new Calibration(10, 1, 10, 1).rowsPerShard(4, Duration.ofMinutes(1))).isEqualTo(Calibration.MIN_ROWS_PER_SHARD);
        assertThat(new Calibration(10, 1, 1e6, 1).rowsPerShard(1, Duration.ofMinutes(1))).isEqualTo(Calibration.MAX_ROWS_PER_SHARD);
        assertThat(new Calibration(0, 0, 0, 0).rowsPerShard(1, Duration.ofMinutes(1))).isEqualTo(Calibration.MIN_ROWS_PER_SHARD);
        assertThat(new Calibration(10, 1, 200, 1).rowsPerShard(1, Duration.ofSeconds(30))).isEqualTo(6_000);
    }
}
