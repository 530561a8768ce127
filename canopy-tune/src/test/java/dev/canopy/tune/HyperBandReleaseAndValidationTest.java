package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * HyperBand when a trial of a bracket ends (error or completion) while the others wait at a rung, trials the scheduler
 * never saw, and the constructor's bounds. Bracket s=2 of max_t 9, eta 3, grace 1 has 9 trials with a rung at 1 iteration.
 */
class HyperBandReleaseAndValidationTest {
    static final Objective ACC = new Objective("val_accuracy", true);

    private final List<Trial> ts = new ArrayList<>();
    private final HyperBandWorkedExampleTest.RecordingControl control = new HyperBandWorkedExampleTest.RecordingControl();

    private HyperBandScheduler fullFirstBracket() {
        HyperBandScheduler hb = new HyperBandScheduler(ACC, 9, 3, 1, 9);
        hb.attach(control);
        for (int i = 0; i < 9; i++) {
            Trial t = new Trial("t" + i, i, Map.of());
            ts.add(t);
            hb.onTrialAdd(t);
        }
        return hb;
    }

    private Decision report(HyperBandScheduler hb, int i, int iteration, double accuracy) {
        Trial t = ts.get(i);
        return hb.onTrialResult(t, new TrialResult(t.id(), iteration, Map.of("val_accuracy", accuracy)));
    }

    private List<Trial> trials(int... is) {
        return Arrays.stream(is).mapToObj(ts::get).toList();
    }

    @Test
    void anErrorOfTheLastAwaitedTrialReleasesTheRungAndTheFirstArrivalCanWin() {
        HyperBandScheduler hb = fullFirstBracket();
        double[] acc = {0.9, 0.1, 0.8, 0.2, 0.3, 0.4, 0.5, 0.6};
        for (int i = 0; i < 8; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d", i).isEqualTo(Decision.PAUSE);
        assertThat(control.stopped).isEmpty();

        hb.onTrialError(ts.get(8));
        // 8 at the rung, keep floor(8/3) = 2: t0 .9 and t2 .8; t0 is the paused trial the release is decided for
        assertThat(control.stopped).containsExactly("t7", "t6", "t5", "t4", "t3", "t1");
        assertThat(hb.choosePausedToResume(trials(0, 2))).isSameAs(ts.get(0));
        assertThat(hb.choosePausedToResume(trials(2))).isSameAs(ts.get(2));
        // the next rung is at 3 iterations and waits for both
        assertThat(report(hb, 2, 3, 0.85)).isEqualTo(Decision.PAUSE);
        assertThat(report(hb, 0, 3, 0.95)).isEqualTo(Decision.CONTINUE);
        assertThat(control.stopped).containsExactly("t7", "t6", "t5", "t4", "t3", "t1", "t2");
    }

    @Test
    void aCompletionOfTheLastAwaitedTrialReleasesTheRungAndStopsTheFirstArrivalIfItLost() {
        HyperBandScheduler hb = fullFirstBracket();
        double[] acc = {0.1, 0.9, 0.2, 0.8, 0.3, 0.4, 0.5, 0.6};
        for (int i = 0; i < 8; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d", i).isEqualTo(Decision.PAUSE);

        hb.onTrialComplete(ts.get(8));
        // keep 2: t1 .9 and t3 .8; t0 (.1, first to arrive) is stopped last, by the release itself
        assertThat(control.stopped).containsExactly("t7", "t6", "t5", "t4", "t2", "t0");
        assertThat(hb.choosePausedToResume(trials(1, 3))).isSameAs(ts.get(1));
        assertThat(hb.choosePausedToResume(trials(3))).isSameAs(ts.get(3));
    }

    @Test
    void anErrorWhileAnotherTrialIsStillAwaitedReleasesNothing() {
        HyperBandScheduler hb = fullFirstBracket();
        double[] acc = {0.1, 0.9, 0.2, 0.8, 0.3, 0.4, 0.5};
        for (int i = 0; i < 7; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d", i).isEqualTo(Decision.PAUSE);

        hb.onTrialError(ts.get(7));
        assertThat(control.stopped).isEmpty();
        assertThat(hb.choosePausedToResume(trials(0, 1, 2, 3, 4, 5, 6))).isNull();
        // t8 arrives last: 8 at the rung, keep 2 (t1, t3); t8 (.6) is third
        assertThat(report(hb, 8, 1, 0.6)).isEqualTo(Decision.STOP);
        assertThat(control.stopped).containsExactly("t6", "t5", "t4", "t2", "t0");
        assertThat(hb.choosePausedToResume(trials(1, 3))).isSameAs(ts.get(1));
    }

    @Test
    void trialsTheSchedulerNeverSawAreLeftAlone() {
        HyperBandScheduler hb = fullFirstBracket();
        Trial stranger = new Trial("stranger", 99, Map.of());
        assertThat(hb.onTrialResult(stranger, new TrialResult("stranger", 1, Map.of("val_accuracy", 0.5)))).isEqualTo(Decision.CONTINUE);
        assertThatCode(() -> hb.onTrialComplete(stranger)).doesNotThrowAnyException();
        assertThatCode(() -> hb.onTrialError(stranger)).doesNotThrowAnyException();
        assertThat(hb.choosePausedToResume(List.of(stranger))).isNull();
        assertThat(control.stopped).isEmpty();
    }

    @Test
    void boundsOfTheSettingsAreInclusiveWhereTheMessagesSaySo() {
        assertThatThrownBy(() -> new HyperBandScheduler(ACC, 0, 3, 1, 1)).isInstanceOf(TuneException.class).hasMessageContaining("max_t must be >= 1");
        assertThatThrownBy(() -> new HyperBandScheduler(ACC, 9, 1.0, 1, 9)).isInstanceOf(TuneException.class).hasMessageContaining("reduction_factor must be > 1");
        assertThatThrownBy(() -> new HyperBandScheduler(ACC, 9, 0.5, 1, 9)).hasMessageContaining("reduction_factor");
        assertThatThrownBy(() -> new HyperBandScheduler(ACC, 9, Double.NaN, 1, 9)).hasMessageContaining("reduction_factor");
        assertThatThrownBy(() -> new HyperBandScheduler(ACC, 9, 3, 0, 9)).hasMessageContaining("grace_period");
        assertThatThrownBy(() -> new HyperBandScheduler(ACC, 9, 3, 10, 9)).hasMessageContaining("grace_period must be in 1..max_t, got 10");
        assertThatCode(() -> new HyperBandScheduler(ACC, 9, 1.0001, 1, 9)).doesNotThrowAnyException();
    }

    @Test
    void maxTOfOneMeansEveryTrialRunsOneIterationUnjudged() {
        HyperBandScheduler hb = new HyperBandScheduler(ACC, 1, 3, 1, 2);
        Trial a = new Trial("a", 0, Map.of());
        Trial b = new Trial("b", 1, Map.of());
        hb.onTrialAdd(a);
        hb.onTrialAdd(b);
        assertThat(hb.onTrialResult(a, new TrialResult("a", 1, Map.of("val_accuracy", 0.1)))).isEqualTo(Decision.CONTINUE);
        assertThat(hb.onTrialResult(b, new TrialResult("b", 1, Map.of("val_accuracy", 0.9)))).isEqualTo(Decision.CONTINUE);
    }

    @Test
    void gracePeriodEqualToMaxTGivesOneBracketPerTrialAndNoRung() {
        // s_max = 0: every bracket is a single trial started at max_t, i.e. plain FIFO
        HyperBandScheduler hb = new HyperBandScheduler(ACC, 9, 3, 9, 4);
        hb.attach(control);
        for (int i = 0; i < 4; i++) {
            Trial t = new Trial("t" + i, i, Map.of());
            ts.add(t);
            hb.onTrialAdd(t);
        }
        for (int i = 0; i < 4; i++) {
            for (int it = 1; it <= 9; it++) assertThat(report(hb, i, it, 0.1 * (i + 1))).as("t%d at %d", i, it).isEqualTo(Decision.CONTINUE);
        }
        assertThat(control.stopped).isEmpty();
    }
}
