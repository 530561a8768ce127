package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.Json;
import dev.canopy.api.tune.TrialResult;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Trial accessors the runner relies on, TuneSettings withers, slot resources and the trainable factory. */
class TrialBasicsTest {
    static final String SPACE = "lr: {uniform: [0.0, 1.0]}";

    @Test
    void beanAccessorsReturnWhatWasSet() {
        Trial t = new Trial("t3", 3, Map.of("lr", 0.01));
        assertThat(t.getId()).isEqualTo("t3");
        assertThat(t.getIndex()).isEqualTo(3);
        assertThat(t.getConfig()).isEqualTo(Map.of("lr", 0.01));
        assertThat(t.config()).isSameAs(t.getConfig());
        t.setCheckpointIteration(4);
        t.setSegmentsRun(6);
        t.setFailures(2);
        t.setIndex(9);
        assertThat(t.getCheckpointIteration()).isEqualTo(4);
        assertThat(t.getSegmentsRun()).isEqualTo(6);
        assertThat(t.getFailures()).isEqualTo(2);
        assertThat(t.getIndex()).isEqualTo(9);
    }

    @Test
    void iterationAndLastMetricFollowTheLatestResult() {
        Trial t = new Trial("t", 0, Map.of());
        assertThat(t.iteration()).isZero();
        assertThat(t.lastMetric("val_accuracy")).isNull();
        t.getResults().add(new TrialResult("t", 1, Map.of("val_accuracy", 0.5)));
        t.getResults().add(new TrialResult("t", 3, Map.of("val_accuracy", 0.7, "loss", 0.2)));
        assertThat(t.iteration()).isEqualTo(3);
        assertThat(t.lastMetric("val_accuracy")).isEqualTo(0.7);
        assertThat(t.lastMetric("loss")).isEqualTo(0.2);
        assertThat(t.lastMetric("f1")).isNull();
        t.setStatus(Trial.Status.RUNNING);
        assertThat(t).hasToString("t[RUNNING @3]");
    }

    @Test
    void setResultsReplacesRatherThanAppends() {
        Trial t = new Trial("t", 0, Map.of());
        t.getResults().add(new TrialResult("t", 1, Map.of("val_accuracy", 0.1)));
        List<TrialResult> replay = List.of(new TrialResult("t", 1, Map.of("val_accuracy", 0.2)),
                new TrialResult("t", 2, Map.of("val_accuracy", 0.3)));
        t.setResults(replay);
        assertThat(t.getResults()).containsExactlyElementsOf(replay);
        assertThat(t.iteration()).isEqualTo(2);
    }

    @Test
    void onlyCompletedStoppedAndErrorAreFinished() {
        Trial t = new Trial("t", 0, Map.of());
        assertThat(t.getStatus()).isEqualTo(Trial.Status.PENDING);
        EnumSet<Trial.Status> finished = EnumSet.of(Trial.Status.COMPLETED, Trial.Status.STOPPED, Trial.Status.ERROR);
        for (Trial.Status s : Trial.Status.values()) {
            t.setStatus(s);
            assertThat(t.isFinished()).as(s.name()).isEqualTo(finished.contains(s));
        }
    }

    @Test
    void survivesTheExperimentStateJson() {
        Trial t = new Trial("t7", 7, Map.of("lr", 0.01, "opt", "adam"));
        t.setStatus(Trial.Status.PAUSED);
        t.setCheckpoint("file:///c/7");
        t.setCheckpointIteration(2);
        t.setFailures(1);
        t.setSegmentsRun(3);
        t.setError("boom");
        t.getResults().add(new TrialResult("t7", 2, Map.of("val_accuracy", 0.5)));
        Trial back = Json.read(Json.write(t), Trial.class, "trial");
        assertThat(back.getId()).isEqualTo("t7");
        assertThat(back.getIndex()).isEqualTo(7);
        assertThat(back.getConfig()).isEqualTo(Map.of("lr", 0.01, "opt", "adam"));
        assertThat(back.getStatus()).isEqualTo(Trial.Status.PAUSED);
        assertThat(back.getCheckpoint()).isEqualTo("file:///c/7");
        assertThat(back.getCheckpointIteration()).isEqualTo(2);
        assertThat(back.getFailures()).isEqualTo(1);
        assertThat(back.getSegmentsRun()).isEqualTo(3);
        assertThat(back.getError()).isEqualTo("boom");
        assertThat(back.getResults()).containsExactly(new TrialResult("t7", 2, Map.of("val_accuracy", 0.5)));
    }

    @Test
    void settingsWithersChangeOneFieldAndDerivedValuesFollow() {
        TuneSettings d = TuneSettings.defaults("file:///s", SPACE);
        assertThat(d.withScheduler("pbt").scheduler()).isEqualTo("pbt");
        assertThat(d.withMaxT(20).maxT()).isEqualTo(20);
        assertThat(d.withMaxTiles(500).maxTiles()).isEqualTo(500);
        assertThat(d.withMaxFailures(5).maxFailures()).isEqualTo(5);
        assertThat(d.withNoRegister(true).noRegister()).isTrue();
        assertThat(d.withScheduler("pbt").withScheduler("asha").withMaxT(20).withMaxT(8).withMaxTiles(500).withMaxTiles(0)
                .withMaxFailures(5).withMaxFailures(2).withNoRegister(true).withNoRegister(false)).isEqualTo(d);
        assertThat(d.objective()).isEqualTo(new Objective("val_accuracy", true));
        assertThat(d.schedulerOptions()).isEqualTo(new Schedulers.Options(8, 1, 3.0, 2, 0.25, 0.25, 42L));
        assertThat(d.withMaxT(20).schedulerOptions().maxT()).isEqualTo(20);
    }

    @Test
    void aTrialWithoutAUsableMetricScoresLowest() {
        TuneSettings d = TuneSettings.defaults("file:///s", SPACE);
        Trial none = new Trial("none", 0, Map.of());
        Trial nan = new Trial("nan", 1, Map.of());
        nan.getResults().add(new TrialResult("nan", 1, Map.of("val_accuracy", Double.NaN)));
        Trial ok = new Trial("ok", 2, Map.of());
        ok.getResults().add(new TrialResult("ok", 1, Map.of("val_accuracy", 0.4)));
        assertThat(d.score(none)).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(d.score(nan)).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(d.score(ok)).isEqualTo(0.4);
    }

    @Test
    void aSlotNeedsSomeCpuOrGpuAndNothingNegative() {
        assertThat(new TrialExecutor.Resources(0, 1).gpus()).isEqualTo(1);
        assertThat(new TrialExecutor.Resources(1, 1).cpus()).isEqualTo(1);
        assertThat(new TrialExecutor.Resources(1, 0).cpus()).isEqualTo(1); // a CPU alone is enough
        assertThatThrownBy(() -> new TrialExecutor.Resources(0, 0)).isInstanceOf(TuneException.class).hasMessageContaining("at least one CPU or GPU");
        assertThatThrownBy(() -> new TrialExecutor.Resources(-1, 2)).isInstanceOf(TuneException.class);
        assertThatThrownBy(() -> new TrialExecutor.Resources(2, -1)).isInstanceOf(TuneException.class);
    }

    @Test
    void theFactoryBuildsTrainablesAndLaysTheTrialConfigOverTheBase() {
        assertThat(new TrainableFactory(CurveTrainable.class.getName(), Map.of()).create()).isInstanceOf(CurveTrainable.class);
        assertThatThrownBy(() -> new TrainableFactory("dev.canopy.tune.NoSuchTrainable", Map.of()).create())
                .isInstanceOf(TuneException.class).hasMessageContaining("dev.canopy.tune.NoSuchTrainable");
        assertThatThrownBy(() -> new TrainableFactory("java.lang.Object", Map.of()).create()).isInstanceOf(TuneException.class);
        Map<String, Object> merged = new TrainableFactory("x", Map.of("epochs", 8, "seed", 42L)).merge(Map.of("epochs", 3, "lr", 0.1));
        assertThat(merged).isEqualTo(Map.of("epochs", 3, "seed", 42L, "lr", 0.1));
    }
}
