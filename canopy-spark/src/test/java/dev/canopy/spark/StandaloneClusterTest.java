package dev.canopy.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.canopy.api.ProgressListener;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.TilePipeline;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Master and two Workers as separate JVMs; one Worker is killed mid-job; every id still appears exactly once. */
class StandaloneClusterTest {
    @TempDir
    Path tmp;

    @Test
    void killingAWorkerCostsOnlyARetry() throws Exception {
        int tiles = 600;
        Path surveyDir = tmp.resolve("survey");
        ModelRegistry.Version model;
        ModelRegistry registry;
        try (FileObjectStore survey = new FileObjectStore(surveyDir); FileObjectStore reg = new FileObjectStore(tmp.resolve("registry"))) {
            Fixtures.survey(survey, tiles, 8);
            model = Fixtures.model(survey.root(), reg, tmp.resolve("cache"));
            registry = Fixtures.registry(reg, tmp.resolve("cache"));
        }
        try (LocalStandaloneCluster cluster = LocalStandaloneCluster.start(tmp.resolve("cluster"), 2, 1, "2g")) {
            SparkSession spark = SparkSessions.create(cluster.masterUrl(), "canopy-cluster-test", List.of());
            try {
                await().atMost(Duration.ofSeconds(90)).until(() -> spark.sparkContext().statusTracker().getExecutorInfos().length >= 3);
                InferenceJobSpec job = new InferenceJobSpec(surveyDir.toUri().toString(), registry.store().root().toString(),
                        registry.packagePrefix(model), model.ref(), null, tmp.resolve("out").toUri().toString(), 1, 16, 2_000, 1,
                        TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
                AtomicLong done = new AtomicLong();
                ProgressListener progress = new ProgressListener() {
                    @Override public void start(String task, long total) { }
                    @Override public void advance(long n) { done.addAndGet(n); }
                    @Override public void message(String extra) { }
                    @Override public void finish() { }
                };
                CompletableFuture<BatchInference.Summary> run = CompletableFuture.supplyAsync(() -> BatchInference.run(job, model.card(), null,
                        BatchInference.Options.defaults().withRowsPerShard(20), new SparkShardRunner(spark), progress));
                await().atMost(Duration.ofSeconds(120)).until(() -> done.get() >= 60 || run.isDone());
                assertThat(run.isDone()).as("the job must still be running when the worker dies").isFalse();
                cluster.killWorker(0);
                BatchInference.Summary s = run.get(5, java.util.concurrent.TimeUnit.MINUTES);
                assertThat(s.rows()).isEqualTo(tiles);
                assertThat(Fixtures.counts(tmp.resolve("out/shards"))).containsEntry("rows", (long) tiles).containsEntry("ids", (long) tiles)
                        .containsEntry("ok", (long) tiles);
            } finally {
                spark.stop();
            }
        }
    }
}
