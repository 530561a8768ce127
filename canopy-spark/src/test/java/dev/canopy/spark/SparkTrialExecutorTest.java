package dev.canopy.spark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.storage.FileObjectStore;
import dev.canopy.tune.AshaScheduler;
import dev.canopy.tune.Experiment;
import dev.canopy.tune.ExperimentState;
import dev.canopy.tune.Objective;
import dev.canopy.tune.RandomSearcher;
import dev.canopy.tune.SearchSpace;
import dev.canopy.tune.TrainableFactory;
import dev.canopy.tune.Trial;
import dev.canopy.train.TileClassifierTrainable;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real training trials, each segment a Spark job on local[2], under ASHA. */
class SparkTrialExecutorTest {
    @TempDir
    Path tmp;

    @Test
    void trialsRunAsSparkJobs() throws Exception {
        Path survey = tmp.resolve("survey");
        try (FileObjectStore s = new FileObjectStore(survey)) {
            Fixtures.survey(s, 80, 2);
        }
        SparkSession spark = SparkSessions.create("local[2]", "canopy-tune-test", List.of());
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            Objective acc = new Objective("val_accuracy", true);
            SearchSpace space = SearchSpace.parse("learning_rate: {loguniform: [0.0003, 0.01]}");
            TrainableFactory factory = new TrainableFactory(TileClassifierTrainable.class.getName(),
                    Map.of("survey", survey.toUri().toString(), "input_size", 32, "batch_size", 16, "epochs", 3, "decode_threads", 1));
            SparkTrialExecutor ex = new SparkTrialExecutor(spark, factory, 2);
            ExperimentState s = Experiment.create(store, Map.of(), new RandomSearcher(space, 1), new AshaScheduler(acc, 3, 1, 2), ex, 4, 3, 1,
                    "val_accuracy", null).run();
            assertThat(s.trials).hasSize(4).allMatch(Trial::isFinished);
            assertThat(s.trials).as(s.trials.get(0).getError() == null ? "" : s.trials.get(0).getError()).noneMatch(t -> t.getStatus() == Trial.Status.ERROR);
            assertThat(Experiment.best(s.trials, acc)).isPresent();
            ex.close();
        } finally {
            spark.stop();
        }
    }

    /**
     * A trial on 2 data-parallel ranks: each segment a barrier stage of 2 tasks; rank 0's checkpoints hold the weights
     * one process gets taking the same 2 slices of every batch in turn, segment after segment (restore included).
     */
    @Test
    void aTrialOnTwoRanksTrainsAsOneProcessTakingTheSameSlices() throws Exception {
        Path survey = tmp.resolve("survey");
        try (FileObjectStore s = new FileObjectStore(survey)) {
            Fixtures.survey(s, 80, 2);
        }
        Map<String, Object> base = Map.of("survey", survey.toUri().toString(), "input_size", 32, "batch_size", 16, "epochs", 2, "decode_threads", 1,
                "workers", 2);
        SparkSession spark = SparkSessions.create("local[2]", "canopy-tune-dp-test", List.of());
        try {
            SparkTrialExecutor ex = new SparkTrialExecutor(spark, new TrainableFactory(TileClassifierTrainable.class.getName(), base), 1, 2);
            assertThat(ex.describe()).contains("2 data-parallel ranks");
            String c1 = tmp.resolve("ckpt-1").toUri().toString(), c2 = tmp.resolve("ckpt-2").toUri().toString();
            var r1 = ex.runSegment(new dev.canopy.tune.TrialExecutor.Segment("t1", Map.of("learning_rate", 0.003), null, c1)).get();
            var r2 = ex.runSegment(new dev.canopy.tune.TrialExecutor.Segment("t1", Map.of("learning_rate", 0.003), c1, c2)).get();
            ex.close();
            assertThat(r1.iteration()).isEqualTo(1);
            assertThat(r2.iteration()).isEqualTo(2);
            assertThat(r2.metrics()).containsKeys("val_accuracy", "allreduce_bytes");
            assertThat(r2.metrics().get("allreduce_bytes")).isPositive();

            Map<String, Object> one = new java.util.HashMap<>(base);
            one.put("learning_rate", 0.003);
            float[] reference;
            try (TileClassifierTrainable t = new TileClassifierTrainable()) {
                t.setup(one);
                t.step();
                t.step();
                reference = t.trainedWeights();
            }
            float[] distributed;
            try (TileClassifierTrainable t = new TileClassifierTrainable()) {
                t.setup(one);
                t.restore(java.net.URI.create(c2));
                distributed = t.trainedWeights();
            }
            double diff = 0, scale = 0;
            for (int i = 0; i < reference.length; i++) {
                diff = Math.max(diff, Math.abs(reference[i] - distributed[i]));
                scale = Math.max(scale, Math.abs(reference[i]));
            }
            assertThat(diff / scale).as("2 ranks in 2 segments vs 1 process").isLessThanOrEqualTo(1e-5);
        } finally {
            spark.stop();
        }
    }
}
