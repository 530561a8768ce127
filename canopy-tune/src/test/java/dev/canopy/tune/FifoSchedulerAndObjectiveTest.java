package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FifoSchedulerAndObjectiveTest {
    @Test
    void fifoPlanCountsEveryTrialTrainedToMaxT() {
        assertThat(new FifoScheduler(27).describePlan(9)).isEqualTo("FIFO: 9 trials, each trained to max_t=27: 243 trial-iterations");
        // the product is a long: 100000 * 100000 would overflow an int
        assertThat(new FifoScheduler(100_000).describePlan(100_000))
                .isEqualTo("FIFO: 100000 trials, each trained to max_t=100000: 10000000000 trial-iterations");
    }

    @Test
    void fifoContinuesEveryTrialWhateverItReports() {
        FifoScheduler fifo = new FifoScheduler(3);
        Trial t = new Trial("t0", 0, Map.of());
        for (double v : new double[] {0.0, -1.0, Double.NaN}) {
            for (int it = 1; it <= 3; it++) {
                assertThat(fifo.onTrialResult(t, new TrialResult("t0", it, Map.of("val_accuracy", v)))).isEqualTo(Decision.CONTINUE);
            }
        }
        assertThat(fifo.onTrialResult(t, new TrialResult("t0", 1, Map.of()))).isEqualTo(Decision.CONTINUE); // needs no metric
    }

    @Test
    void ofParsesTheModeExactly() {
        assertThat(Objective.of("val_accuracy", "max")).isEqualTo(new Objective("val_accuracy", true));
        assertThat(Objective.of("loss", "min")).isEqualTo(new Objective("loss", false));
        assertThatThrownBy(() -> Objective.of("loss", "minimize")).isInstanceOf(TuneException.class)
                .hasMessage("mode must be max or min, got 'minimize'");
    }

    @Test
    void scoreIsOrientedSoLargerIsBetterAndNanIsTheWorst() {
        TrialResult r = new TrialResult("t7", 3, Map.of("loss", 0.25, "val_accuracy", 0.75));
        assertThat(new Objective("val_accuracy", true).score(r)).isEqualTo(0.75);
        assertThat(new Objective("loss", false).score(r)).isEqualTo(-0.25);
        assertThat(Objective.of("loss", "min").score(r)).isEqualTo(-0.25);
        assertThat(new Objective("loss", true).score(r)).isEqualTo(0.25);
        TrialResult nan = new TrialResult("t8", 1, Map.of("loss", Double.NaN));
        assertThat(new Objective("loss", false).score(nan)).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(new Objective("loss", true).score(nan)).isEqualTo(Double.NEGATIVE_INFINITY);
    }

    @Test
    void anUnreportedOrBlankMetricIsAnErrorNotADefault() {
        TrialResult r = new TrialResult("t7", 3, Map.of("val_accuracy", 0.75));
        assertThatThrownBy(() -> new Objective("loss", false).score(r))
                .isInstanceOfSatisfying(TuneException.class, e -> assertThat(e.code()).isEqualTo("tune.unknown_metric"))
                .hasMessage("trial t7 did not report metric 'loss'; it reported [val_accuracy]");
        assertThatThrownBy(() -> new Objective(" ", true)).isInstanceOf(TuneException.class).hasMessage("no metric given");
        assertThatThrownBy(() -> new Objective(null, true)).isInstanceOf(TuneException.class).hasMessage("no metric given");
    }
}
