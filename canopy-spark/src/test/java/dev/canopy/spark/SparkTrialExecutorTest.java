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
}
