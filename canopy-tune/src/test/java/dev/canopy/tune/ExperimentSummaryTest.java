package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExperimentSummaryTest {
    static final Objective ACC = new Objective("val_accuracy", true);

    @TempDir
    Path tmp;

    private static Trial reported(String id, double... accuracy) {
        Trial t = new Trial(id, 0, Map.of());
        for (int i = 0; i < accuracy.length; i++) t.getResults().add(new TrialResult(id, i + 1, Map.of("val_accuracy", accuracy[i])));
        return t;
    }

    @Test
    void bestIsByTheLastReportedMetricInEitherDirectionSkippingTrialsWithoutIt() {
        Trial rising = reported("rising", 0.3, 0.6);
        Trial falling = reported("falling", 0.9, 0.5); // best ever 0.9, but last 0.5
        Trial silent = new Trial("silent", 2, Map.of());
        Trial other = new Trial("other", 3, Map.of());
        other.getResults().add(new TrialResult("other", 1, Map.of("loss", 0.01)));
        Trial diverged = reported("diverged", 0.2, Double.NaN);
        List<Trial> all = List.of(silent, rising, other, falling, diverged);
        assertThat(Experiment.best(all, ACC)).containsSame(rising);
        assertThat(Experiment.best(all, new Objective("val_accuracy", false))).containsSame(falling);
        assertThat(Experiment.best(List.of(silent, other, diverged), ACC)).isEmpty();
    }

    @Test
    void costComparesUnitsSpentWithRunningEveryTrialToMaxT() {
        List<Trial> trials = new ArrayList<>();
        for (int spent : new int[] {3, 9, 1}) {
            Trial t = new Trial("t" + spent, 0, Map.of());
            t.setSegmentsRun(spent);
            trials.add(t);
        }
        Experiment.Cost c = Experiment.cost(trials, 9);
        assertThat(c.used()).isEqualTo(13);
        assertThat(c.full()).isEqualTo(27);
        assertThat(c.savedPercent()).isCloseTo(100.0 * 14 / 27, within(1e-9));
        assertThat(Experiment.cost(List.of(), 9)).isEqualTo(new Experiment.Cost(0, 0, 0.0));
    }

    @Test
    void onlyStopCompletedAndErrorEndATrial() {
        assertThat(EnumSet.allOf(Experiment.Event.class).stream().filter(Experiment.Event::isEnd))
                .containsExactlyInAnyOrder(Experiment.Event.STOP, Experiment.Event.COMPLETED, Experiment.Event.ERROR);
    }

    @Test
    void createSavesTheStateAtOnceAndRefusesAFolderThatHasOne() {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            Experiment.create(store, Map.of("scheduler", "fifo"), (i, h) -> null, new FifoScheduler(1), new RunnerKit.InlineExecutor(1), 1, 1, 0,
                    "val_accuracy", null);
            ExperimentState saved = Experiment.load(store);
            assertThat(saved.status).isEqualTo("running");
            assertThat(saved.spec).isEqualTo(Map.of("scheduler", "fifo"));
            assertThat(saved.trials).isEmpty();
            assertThatThrownBy(() -> Experiment.create(store, Map.of(), (i, h) -> null, new FifoScheduler(1), new RunnerKit.InlineExecutor(1), 1, 1, 0,
                    "val_accuracy", null)).isInstanceOf(TuneException.class).hasMessageContaining("already exists");
        }
    }

    @Test
    void stopEndsTheTrialAndTellsTheListener() {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            List<String> events = new ArrayList<>();
            Experiment e = Experiment.create(store, Map.of(), (i, h) -> null, new FifoScheduler(1), new RunnerKit.InlineExecutor(1), 1, 1, 0,
                    "val_accuracy", RunnerKit.into(events));
            Trial waiting = new Trial("trial-007", 7, Map.of());
            waiting.setStatus(Trial.Status.PAUSED);
            e.stop(waiting);
            assertThat(waiting.getStatus()).isEqualTo(Trial.Status.STOPPED);
            assertThat(events).containsExactly("trial-007 STOP");
        }
    }
}
