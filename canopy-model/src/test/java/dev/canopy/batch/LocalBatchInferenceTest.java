package dev.canopy.batch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.io.LocalInputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The batch pipeline without any engine: shards on threads of this JVM (the engine-neutral module tests itself). */
class LocalBatchInferenceTest {
    @TempDir
    Path tmp;

    @Test
    void everyRowOnceWithErrorRowsOnLocalThreads() throws Exception {
        Path survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(70, 32, 3), s, ProgressListener.NONE);
        }
        Files.write(survey.resolve("tiles/r00000c00002.jpg"), new byte[] {1, 2, 3});
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(tmp.resolve("reg")), tmp.resolve("cache"), Clock.systemUTC());
        ModelCard card = new ModelCard("m", ModelCard.FORMAT_DJL, "small-cnn", 32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        ModelRegistry.Version v = registry.register("m", card, Architecture.SMALL_CNN.initialWeights(5, 32, 1));
        Path out = tmp.resolve("out");
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                null, out.toUri().toString(), 2, 8, 1_000, 2, 16, 1 << 20);
        BatchInference.Summary s = BatchInference.run(job, card, null, BatchInference.Options.defaults().withRowsPerShard(25),
                new LocalShardRunner(2), ProgressListener.NONE);
        assertThat(s.rows()).isEqualTo(70);
        assertThat(s.errors()).isEqualTo(1);
        assertThat(s.shards()).isEqualTo(3);
        long rows = 0;
        Set<String> ids = new HashSet<>();
        for (Path shard : Files.list(out.resolve("shards")).toList()) {
            try (ParquetReader<Group> r = new ParquetReader.Builder<Group>(new LocalInputFile(shard)) {
                @Override
                protected org.apache.parquet.hadoop.api.ReadSupport<Group> getReadSupport() {
                    return new GroupReadSupport();
                }
            }.build()) {
                for (Group g = r.read(); g != null; g = r.read()) {
                    rows++;
                    ids.add(g.getString("id", 0));
                }
            }
        }
        assertThat(rows).isEqualTo(70);
        assertThat(ids).hasSize(70);
        try (FileObjectStore s2 = new FileObjectStore(survey); var all = Manifest.open(s2).rows()) {
            assertThat(all.map(ManifestRow::id)).containsExactlyInAnyOrderElementsOf(ids);
        }
    }

    static ModelRegistry.Version model(ModelRegistry registry) {
        ModelCard card = new ModelCard("m", ModelCard.FORMAT_DJL, "small-cnn", 32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        return registry.register("m", card, Architecture.SMALL_CNN.initialWeights(5, 32, 1));
    }

    /** A job recorded before plans carried their shard size resumes with the old fixed size, not a new calibration. */
    @Test
    void aJobFromBeforeRecordedShardSizesResumesWithTheOldDefault() throws Exception {
        Path survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(60, 32, 3), s, ProgressListener.NONE);
        }
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(tmp.resolve("reg")), tmp.resolve("cache"), Clock.systemUTC());
        ModelRegistry.Version v = model(registry);
        Path out = tmp.resolve("out");
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                null, out.toUri().toString(), 1, 8, 0, 2, 16, 1 << 20);
        BatchInference.run(job, v.card(), null, BatchInference.Options.defaults().withRowsPerShard(InferenceJobSpec.DEFAULT_ROWS_PER_SHARD),
                new LocalShardRunner(1), ProgressListener.NONE);
        // make it look like an old, interrupted job: no recorded shard size, no marker, no success
        com.fasterxml.jackson.databind.node.ObjectNode j = (com.fasterxml.jackson.databind.node.ObjectNode) dev.canopy.api.Json.MAPPER.readTree(
                out.resolve("_job.json").toFile());
        j.remove("rowsPerShard");
        Files.write(out.resolve("_job.json"), dev.canopy.api.Json.write(j));
        Files.delete(out.resolve("_committed/part-00000.json"));
        Files.delete(out.resolve("_SUCCESS"));
        BatchInference.Summary s = BatchInference.run(job, v.card(), null, BatchInference.Options.defaults().withResume(true), new LocalShardRunner(1),
                ProgressListener.NONE);
        assertThat(s.rows()).isEqualTo(60);
        assertThat(s.status()).isEqualTo("succeeded");
        assertThat(out.resolve(JobProgress.FILE)).exists();
        assertThat(dev.canopy.api.Json.MAPPER.readValue(out.resolve(JobProgress.FILE).toFile(), JobProgress.class).stage()).isEqualTo("succeeded");
    }

    /** A refused run (output already there) writes no progress over the other job's. */
    @Test
    void aRefusedRunLeavesTheExistingJobsProgressAlone() throws Exception {
        Path survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(30, 32, 3), s, ProgressListener.NONE);
        }
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(tmp.resolve("reg")), tmp.resolve("cache"), Clock.systemUTC());
        ModelRegistry.Version v = model(registry);
        Path out = tmp.resolve("out");
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                null, out.toUri().toString(), 1, 8, 0, 2, 16, 1 << 20);
        BatchInference.run(job, v.card(), null, BatchInference.Options.defaults().withRowsPerShard(10), new LocalShardRunner(1), ProgressListener.NONE);
        byte[] before = Files.readAllBytes(out.resolve(JobProgress.FILE));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> BatchInference.run(job, v.card(), null, BatchInference.Options.defaults(),
                new LocalShardRunner(1), ProgressListener.NONE)).hasMessageContaining("already wrote");
        assertThat(Files.readAllBytes(out.resolve(JobProgress.FILE))).isEqualTo(before);
    }

    /**
     * Every tile fails (as with bad credentials): the job stops once the first 1,000 rows show the error
     * fraction is over the limit, instead of writing error rows for the whole survey; what was
     * committed before stays.
     */
    @Test
    void aJobWhoseTilesAllFailStopsAfterTheFirstThousandRows() throws Exception {
        Path survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(4000, 16, 3), s, ProgressListener.NONE);
        }
        try (var files = Files.list(survey.resolve("tiles"))) {
            for (Path f : files.toList()) Files.delete(f);
        }
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(tmp.resolve("reg")), tmp.resolve("cache"), Clock.systemUTC());
        ModelRegistry.Version v = model(registry);
        Path out = tmp.resolve("out");
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                null, out.toUri().toString(), 1, 8, 0, 2, 16, 1 << 20);
        long[] lastShown = {0};
        ProgressListener progress = new ProgressListener() {
            @Override public void start(String task, long total) { }
            @Override public void advance(long n) { lastShown[0] += n; }
            @Override public void message(String extra) { }
            @Override public void finish() { }
        };
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> BatchInference.run(job, v.card(), null,
                        BatchInference.Options.defaults().withRowsPerShard(600), new LocalShardRunner(1), progress))
                .isInstanceOf(dev.canopy.api.CanopyException.class).hasMessageContaining("stopped early")
                .hasMessageContaining("of the first 1000 tiles failed")
                .satisfies(e -> assertThat(((dev.canopy.api.CanopyException) e).fix()).contains("--resume"));
        // shard 0 (600 rows) committed; shard 1 was cancelled at row 1,000; shards 2..6 never ran
        try (var markers = Files.list(out.resolve("_committed"))) {
            assertThat(markers.map(p -> p.getFileName().toString()).toList()).containsExactly("part-00000.json");
        }
        assertThat(out.resolve("shards/part-00000.parquet")).exists();
        assertThat(out.resolve("shards/part-00001.parquet")).doesNotExist();
        assertThat(lastShown[0]).isBetween(1000L, 1100L); // progress moved by rows, live, not by whole shards
        assertThat(out.resolve("_SUCCESS")).doesNotExist();
    }

    /**
     * The byte bound covers the whole path, fetch to answer: with a 300 KB budget the bytes in flight
     * never exceed the budget plus one tile, while the count bound alone (256 tiles) would allow far more.
     */
    @Test
    void bytesInFlightStayWithinTheBudgetFromFetchToAnswer() throws Exception {
        Path survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(300, 256, 3), s, ProgressListener.NONE);
        }
        long largest;
        try (var files = Files.list(survey.resolve("tiles"))) {
            largest = files.mapToLong(f -> f.toFile().length()).max().orElseThrow();
        }
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(tmp.resolve("reg")), tmp.resolve("cache"), Clock.systemUTC());
        ModelRegistry.Version v = model(registry);
        long budget = 300_000;
        int tensor = 3 * 32 * 32 * 4;
        java.util.concurrent.ExecutorService decoders = java.util.concurrent.Executors.newFixedThreadPool(2);
        try (FileObjectStore s = new FileObjectStore(survey);
             dev.canopy.imagery.TileSource source = new dev.canopy.imagery.TileSource(null, dev.canopy.storage.S3Settings.defaults());
             dev.canopy.model.PredictorPool<float[], dev.canopy.model.Classification> pool = dev.canopy.model.PredictorPool.classifier(
                     () -> registry.load(v.ref())).withMaxBatch(8).withMaxWait(0).build();
             var rows = Manifest.open(s).rows()) {
            TilePipeline pipeline = new TilePipeline(source, new ImageDecoder(32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD), decoders,
                    pool, TilePipeline.DEFAULT_MAX_IN_FLIGHT, budget);
            PipelineStats stats = new PipelineStats();
            var it = pipeline.run(rows.iterator(), stats);
            int n = 0;
            while (it.hasNext()) {
                assertThat(it.next().isOk()).isTrue();
                n++;
            }
            assertThat(n).isEqualTo(300);
            assertThat(largest * 256).as("the count bound alone would allow this much").isGreaterThan(4 * budget);
            assertThat(pipeline.peakBytesInFlight()).isPositive().isLessThanOrEqualTo(budget + Math.max(largest, tensor) * 2);
        } finally {
            decoders.shutdownNow();
        }
    }
}
