package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Tuning.run with a fake stage runner and registrar: which stage wins, what gets registered. */
class TuningRunTest {
    static final String SPACE = "learning_rate: {loguniform: [0.0001, 0.1]}\nbatch_size: {choice: [16, 32, 64]}\n";

    record Call(TuneSettings settings, String dir, boolean resuming) { }

    record Registration(String name, Trial best, Map<String, Object> trainableSettings) { }

    private final List<Call> calls = new ArrayList<>();
    private final List<Registration> registrations = new ArrayList<>();
    private final Tuning.Registrar registrar = (name, best, trainable) -> {
        registrations.add(new Registration(name, best, trainable));
        return name + ":" + registrations.size();
    };

    /** Returns the given stages in order; an unexpected extra run fails with NoSuchElementException. */
    private Tuning.StageRunner runner(Tuning.Stage... stages) {
        Deque<Tuning.Stage> left = new ArrayDeque<>(List.of(stages));
        return (st, dir, resuming) -> {
            calls.add(new Call(st, dir, resuming));
            return left.removeFirst();
        };
    }

    private static Trial trial(String id, double lr, String metric, double value) {
        Trial t = new Trial(id, 0, Map.of("learning_rate", lr, "batch_size", 16));
        t.getResults().add(new TrialResult(id, 1, Map.of(metric, value)));
        t.setStatus(Trial.Status.COMPLETED);
        return t;
    }

    private static Tuning.Stage stage(Trial best, String dir) {
        ExperimentState state = new ExperimentState();
        if (best != null) state.trials.add(best);
        return new Tuning.Stage(state, best, dir);
    }

    private static TuneSettings settings() {
        return TuneSettings.defaults("file:///survey", SPACE);
    }

    @Test
    void theRefinedStageWinsWhenItsBestScoresHigherAndIsRegistered() throws Exception {
        TuneSettings s = settings().withRefine(true);
        Trial a = trial("a", 0.001, "val_accuracy", 0.8);
        Trial b = trial("b", 0.0015, "val_accuracy", 0.9);
        Tuning.Stage first = stage(a, "/exp");
        Tuning.Stage second = stage(b, "/exp/stage-2");

        Tuning.Outcome o = Tuning.run(s, "/exp", true, runner(first, second), registrar);

        assertThat(o.winner()).isSameAs(second);
        assertThat(o.registered()).isEqualTo("land-cover:1");
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0)).isEqualTo(new Call(s, "/exp", true));
        Call refined = calls.get(1);
        assertThat(refined.dir()).isEqualTo("/exp/stage-2");
        assertThat(refined.resuming()).as("a resumed tuning job resumes its second stage too").isTrue();
        assertThat(refined.settings().refine()).isFalse();
        assertThat(refined.settings().seed()).isEqualTo(43L);
        Domain.LogUniform lr = (Domain.LogUniform) refined.settings().searchSpace().params().get("learning_rate");
        assertThat(lr.low()).isGreaterThan(0.0001);
        assertThat(lr.high()).isLessThan(0.01);
        assertThat(registrations).hasSize(1);
        Registration r = registrations.get(0);
        assertThat(r.name()).isEqualTo("land-cover");
        assertThat(r.best()).isSameAs(b);
        assertThat(r.trainableSettings()).containsEntry("learning_rate", 0.0015).containsEntry("batch_size", 16)
                .containsEntry("epochs", 8).containsEntry("survey", "file:///survey");
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.8, 0.7})
    void theFirstStageKeepsTheWinWhenTheRefinedOneIsNoBetter(double refinedBest) throws Exception {
        TuneSettings s = settings().withRefine(true);
        Trial a = trial("a", 0.001, "val_accuracy", 0.8);
        Tuning.Stage first = stage(a, "/exp");
        Tuning.Stage second = stage(trial("b", 0.002, "val_accuracy", refinedBest), "/exp/stage-2");
        Tuning.Outcome o = Tuning.run(s, "/exp", false, runner(first, second), registrar);
        assertThat(o.winner()).isSameAs(first);
        assertThat(calls).hasSize(2);
        assertThat(registrations).hasSize(1);
        assertThat(registrations.get(0).best()).isSameAs(a);
    }

    @Test
    void inMinModeTheLowerLossWins() throws Exception {
        Map<String, Object> m = settings().withRefine(true).toMap();
        m.put("metric", "loss");
        m.put("mode", "min");
        TuneSettings s = TuneSettings.fromMap(m);
        Trial a = trial("a", 0.001, "loss", 0.3);
        Trial b = trial("b", 0.002, "loss", 0.2);
        assertThat(s.score(b)).isEqualTo(-0.2);
        Tuning.Stage second = stage(b, "/exp/stage-2");
        Tuning.Outcome o = Tuning.run(s, "/exp", false, runner(stage(a, "/exp"), second), registrar);
        assertThat(o.winner()).isSameAs(second);
        assertThat(registrations.get(0).best()).isSameAs(b);
    }

    @Test
    void aRefinedStageWithoutABestLeavesTheFirstAsWinner() throws Exception {
        TuneSettings s = settings().withRefine(true);
        Trial a = trial("a", 0.001, "val_accuracy", 0.8);
        Tuning.Stage first = stage(a, "/exp");
        Tuning.Outcome o = Tuning.run(s, "/exp", false, runner(first, stage(null, "/exp/stage-2")), registrar);
        assertThat(o.winner()).isSameAs(first);
        assertThat(o.registered()).isEqualTo("land-cover:1");
        assertThat(registrations.get(0).best()).isSameAs(a);
    }

    @Test
    void withoutAFirstBestThereIsNoRefinementAndNothingToRegister() throws Exception {
        Tuning.Stage first = stage(null, "/exp");
        Tuning.Outcome o = Tuning.run(settings().withRefine(true), "/exp", false, runner(first), registrar);
        assertThat(o).isEqualTo(new Tuning.Outcome(first, null));
        assertThat(calls).hasSize(1);
        assertThat(registrations).isEmpty();
    }

    @Test
    void noRegisterRunsButRegistersNothing() throws Exception {
        Tuning.Stage first = stage(trial("a", 0.001, "val_accuracy", 0.8), "/exp");
        Tuning.Outcome o = Tuning.run(settings().withNoRegister(true), "/exp", false, runner(first), registrar);
        assertThat(o).isEqualTo(new Tuning.Outcome(first, null));
        assertThat(registrations).isEmpty();
    }

    @Test
    void withoutRefineOnlyOneStageRuns() throws Exception {
        TuneSettings s = settings();
        Trial a = trial("a", 0.001, "val_accuracy", 0.8);
        Tuning.Stage first = stage(a, "/exp");
        Tuning.Outcome o = Tuning.run(s, "/exp", true, runner(first), registrar);
        assertThat(calls).containsExactly(new Call(s, "/exp", true));
        assertThat(o.winner()).isSameAs(first);
        assertThat(registrations.get(0).best()).isSameAs(a);
    }

    @Test
    void refinementNarrowsAroundTrialsThatReportedTheMetricOnly() {
        TuneSettings s = settings().withRefine(true);
        ExperimentState first = new ExperimentState();
        first.trials.add(trial("good", 0.001, "val_accuracy", 0.9));
        first.trials.add(new Trial("silent", 1, Map.of("learning_rate", 0.05, "batch_size", 64)));
        first.trials.add(trial("diverged", 0.09, "val_accuracy", Double.NaN));
        SearchSpace narrowed = Tuning.refined(s, first).searchSpace();
        // log pad = 0.1 * ln(0.1 / 0.0001), i.e. a factor 10^0.3 either side of 0.001
        Domain.LogUniform lr = (Domain.LogUniform) narrowed.params().get("learning_rate");
        assertThat(lr.low()).isCloseTo(0.001 * Math.pow(10, -0.3), within(1e-9));
        assertThat(lr.high()).isCloseTo(0.001 * Math.pow(10, 0.3), within(1e-9));
        assertThat(((Domain.Choice) narrowed.params().get("batch_size")).values()).containsExactly(16L);
    }
}
