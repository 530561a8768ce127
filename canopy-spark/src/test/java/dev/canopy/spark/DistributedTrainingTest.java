package dev.canopy.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.S3Settings;
import dev.canopy.train.TrainConfig;
import dev.canopy.train.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training as a barrier stage on a standalone cluster of real processes (a Master, two Workers of one
 * core each): one rank's executor is killed with SIGKILL in the middle of epoch 2; Spark fails the stage and runs it
 * again, both ranks continue from epoch 1's checkpoint, and the run ends with rank 0's weights and metrics those of an
 * uninterrupted run on the same cluster.
 */
@Timeout(600)
class DistributedTrainingTest {
    @TempDir
    Path tmp;

    @Test
    void aKilledRankCostsARetryFromTheLastCheckpointAndNothingElse() throws Exception {
        Path surveyDir = tmp.resolve("survey");
        try (FileObjectStore survey = new FileObjectStore(surveyDir)) {
            Fixtures.survey(survey, 480, 5);
        }
        Map<String, Object> c = new HashMap<>();
        c.put("survey", surveyDir.toUri().toString());
        c.put("input_size", 32);
        c.put("batch_size", 16);
        c.put("epochs", 3);
        c.put("decode_threads", 1);
        c.put("workers", 2);
        TrainConfig config = TrainConfig.fromMap(c);
        TrainingRun uninterrupted = TrainingRun.create(tmp.resolve("run-a").toUri(), config, S3Settings.fromEnvironment());
        TrainingRun killed = TrainingRun.create(tmp.resolve("run-b").toUri(), config, S3Settings.fromEnvironment());

        try (LocalStandaloneCluster cluster = LocalStandaloneCluster.start(tmp.resolve("cluster"), 2, 1, "2g")) {
            SparkSession spark = SparkSessions.create(cluster.masterUrl(), "canopy-train-dist-test", List.of());
            AtomicInteger failedStages = new AtomicInteger();
            spark.sparkContext().addSparkListener(new SparkListener() {
                @Override
                public void onStageCompleted(SparkListenerStageCompleted e) {
                    if (e.stageInfo().failureReason().isDefined()) failedStages.incrementAndGet();
                }
            });
            try {
                await().atMost(Duration.ofSeconds(90)).until(() -> spark.sparkContext().statusTracker().getExecutorInfos().length >= 3);
                SparkTraining.Outcome a = SparkTraining.run(spark, uninterrupted.uri(), 2, null, tmp.resolve("cache"), null);
                assertThat(a.epochs()).isEqualTo(3);
                assertThat(a.executor()).startsWith("2 ranks");
                assertThat(failedStages.get()).isZero();

                CompletableFuture<SparkTraining.Outcome> b = CompletableFuture.supplyAsync(
                        () -> SparkTraining.run(spark, killed.uri(), 2, null, tmp.resolve("cache"), null));
                await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(50)).until(() -> killed.latestEpoch() >= 1 || b.isDone());
                assertThat(killed.latestEpoch()).as("the kill must come in epoch 2, while the run goes on").isEqualTo(1);
                ProcessHandle executor = executorOf(cluster.workers().get(1)).orElseThrow();
                executor.destroyForcibly(); // SIGKILL
                executor.onExit().get(30, TimeUnit.SECONDS);
                assertThat(b.isDone()).as("the run was still going when its rank died").isFalse();

                SparkTraining.Outcome out = b.get(5, TimeUnit.MINUTES);
                assertThat(failedStages.get()).as("the barrier stage failed once and was run again").isGreaterThanOrEqualTo(1);
                assertThat(out.epochs()).isEqualTo(3);
                assertThat(out.metrics()).isEqualTo(a.metrics());
                assertThat(Files.readAllBytes(tmp.resolve("run-b/checkpoints/epoch-0003/params.bin")))
                        .as("rank 0's final weights, bit for bit").isEqualTo(Files.readAllBytes(tmp.resolve("run-a/checkpoints/epoch-0003/params.bin")));
                assertThat(Files.readString(tmp.resolve("run-b/metrics.jsonl")).lines().count()).isEqualTo(3);
            } finally {
                spark.stop();
            }
        }
    }

    /** The executor JVM a Worker started (Spark's CoarseGrainedExecutorBackend), if it runs one. */
    static Optional<ProcessHandle> executorOf(Process worker) {
        return worker.descendants().filter(p -> p.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend")).findFirst();
    }
}
