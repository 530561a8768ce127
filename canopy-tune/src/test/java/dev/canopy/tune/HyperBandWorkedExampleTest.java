package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Synchronous HyperBand worked by hand. max_t = 9, reduction_factor = 3, grace_period = 1 give s_max = 2 and, in the
 * order trials are added, the brackets
 * <pre>
 *   bracket s=2: 9 trials at 1 iteration -> best 3 go on to 3 -> best 1 goes on to 9
 *   bracket s=1: 5 trials at 3 iterations -> best 1 goes on to 9
 *   bracket s=0: 3 trials straight to 9 (no rung)
 *   then s=2 again
 * </pre>
 * At a rung every live trial of the bracket pauses until the last one arrives; that one gets CONTINUE or STOP,
 * the other winners are resumed through choosePausedToResume and the other losers are stopped through the control.
 */
class HyperBandWorkedExampleTest {
    static final Objective ACC = new Objective("val_accuracy", true);

    /** Records the trials the scheduler stops through the runner (paused trials that lost their rung). */
    static final class RecordingControl implements TrialScheduler.TrialControl {
        final List<String> stopped = new ArrayList<>();

        @Override
        public boolean exploit(Trial target, Trial source, Map<String, Object> newConfig) {
            throw new AssertionError("HyperBand never exploits");
        }

        @Override
        public void stop(Trial trial) {
            stopped.add(trial.id());
        }
    }

    private final List<Trial> ts = new ArrayList<>();
    private final RecordingControl control = new RecordingControl();

    /** max_t 9, eta 3, grace 1, with {@code trials} trials t0, t1, ... added up front. */
    private HyperBandScheduler scheduler(int samples, int trials) {
        HyperBandScheduler hb = new HyperBandScheduler(ACC, 9, 3, 1, samples);
        hb.attach(control);
        add(hb, trials);
        return hb;
    }

    private void add(HyperBandScheduler hb, int n) {
        for (int k = 0; k < n; k++) {
            Trial t = new Trial("t" + ts.size(), ts.size(), Map.of());
            ts.add(t);
            hb.onTrialAdd(t);
        }
    }

    private Decision report(HyperBandScheduler hb, int i, int iteration, double accuracy) {
        Trial t = ts.get(i);
        return hb.onTrialResult(t, new TrialResult(t.id(), iteration, Map.of("val_accuracy", accuracy)));
    }

    private Trial t(int i) {
        return ts.get(i);
    }

    private List<Trial> trials(int... is) {
        return Arrays.stream(is).mapToObj(ts::get).toList();
    }

    @Test
    void firstBracketRunsNineAtOneIterationThreeAtThreeOneToMaxT() {
        HyperBandScheduler hb = scheduler(20, 10); // t0..t8 fill bracket s=2, t9 opens bracket s=1
        // t9's bracket has its first rung at 3 iterations: 1 is not a rung for it
        assertThat(report(hb, 9, 1, 0.05)).isEqualTo(Decision.CONTINUE);

        double[] acc = {0.5, 0.9, 0.2, 0.7, 0.1, 0.8, 0.3, 0.6, 0.4};
        for (int i = 0; i < 8; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d at 1", i).isEqualTo(Decision.PAUSE);
        assertThat(control.stopped).isEmpty();
        // t8 completes rung 0. Ranking: t1 .9, t5 .8, t3 .7 | t7 .6, t0 .5, t8 .4, t6 .3, t2 .2, t4 .1; keep floor(9/3) = 3
        assertThat(report(hb, 8, 1, acc[8])).isEqualTo(Decision.STOP);
        assertThat(control.stopped).containsExactly("t7", "t0", "t6", "t2", "t4");
        // the winners are resumed one at a time; a loser is never picked
        assertThat(hb.choosePausedToResume(trials(0, 5, 1, 3))).isSameAs(t(5));
        assertThat(hb.choosePausedToResume(trials(1, 3))).isSameAs(t(1));
        assertThat(hb.choosePausedToResume(trials(3))).isSameAs(t(3));
        assertThat(hb.choosePausedToResume(trials(0, 7))).isNull();

        // rung 1 is at 3 iterations: 2 is not judged
        assertThat(report(hb, 1, 2, 0.91)).isEqualTo(Decision.CONTINUE);
        assertThat(report(hb, 1, 3, 0.95)).isEqualTo(Decision.PAUSE);
        assertThat(report(hb, 5, 3, 0.85)).isEqualTo(Decision.PAUSE);
        // t3 completes rung 1 as the best of 3: keep max(1, floor(3/3)) = 1
        assertThat(report(hb, 3, 3, 0.99)).isEqualTo(Decision.CONTINUE);
        assertThat(control.stopped).containsExactly("t7", "t0", "t6", "t2", "t4", "t1", "t5");
        assertThat(hb.choosePausedToResume(trials(1, 5))).isNull();

        // the last rung is max_t itself: never a pause
        for (int it = 4; it <= 9; it++) assertThat(report(hb, 3, it, 0.99)).as("t3 at %d", it).isEqualTo(Decision.CONTINUE);
        hb.onTrialComplete(t(3));
        assertThat(control.stopped).hasSize(7);
    }

    @Test
    void laterBracketsStartLaterWithFewerTrialsThenTheCycleRepeats() {
        HyperBandScheduler hb = scheduler(30, 18); // s=2: t0..t8, s=1: t9..t13, s=0: t14..t16, s=2: t17
        // bracket s=2 is full but only t0 has reported
        assertThat(report(hb, 0, 1, 0.5)).isEqualTo(Decision.PAUSE);

        for (int i = 9; i <= 13; i++) {
            assertThat(report(hb, i, 1, 0.1)).as("t%d at 1", i).isEqualTo(Decision.CONTINUE);
            assertThat(report(hb, i, 2, 0.1)).as("t%d at 2", i).isEqualTo(Decision.CONTINUE);
        }
        double[] acc = {0.3, 0.6, 0.5, 0.4, 0.2}; // t9..t13 at 3 iterations
        for (int i = 9; i <= 12; i++) assertThat(report(hb, i, 3, acc[i - 9])).as("t%d at 3", i).isEqualTo(Decision.PAUSE);
        // 5 at the rung, keep max(1, floor(5/3)) = 1: t10; t13 (.2) is told to stop, t11, t12, t9 are stopped
        assertThat(report(hb, 13, 3, acc[4])).isEqualTo(Decision.STOP);
        assertThat(control.stopped).containsExactly("t11", "t12", "t9");
        // t0 is paused in another bracket whose rung is still open: not resumed
        assertThat(hb.choosePausedToResume(trials(0, 10))).isSameAs(t(10));
        assertThat(hb.choosePausedToResume(trials(0))).isNull();
        for (int it = 4; it <= 9; it++) assertThat(report(hb, 10, it, 0.7)).as("t10 at %d", it).isEqualTo(Decision.CONTINUE);

        // bracket s=0: 3 trials, each trained to max_t without being judged (max_t reached is no pause)
        for (int i = 14; i <= 16; i++) {
            for (int it = 1; it <= 9; it++) assertThat(report(hb, i, it, 0.5)).as("t%d at %d", i, it).isEqualTo(Decision.CONTINUE);
        }
        // t17 is in the next s=2 bracket: rung at 1 iteration, 8 places still open
        assertThat(report(hb, 17, 1, 0.5)).isEqualTo(Decision.PAUSE);
        assertThat(control.stopped).containsExactly("t11", "t12", "t9");
    }

    @Test
    void aBracketCutShortBySamplesIsJudgedWhenTheLastSampleArrives() {
        HyperBandScheduler hb = scheduler(5, 5); // only 5 of the 9 places of bracket s=2 will ever be filled
        double[] acc = {0.5, 0.1, 0.4, 0.2, 0.3};
        for (int i = 0; i < 4; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d", i).isEqualTo(Decision.PAUSE);
        // keep max(1, floor(5/3)) = 1: t0; ranking t0 .5 | t2 .4, t4 .3, t3 .2, t1 .1
        assertThat(report(hb, 4, 1, acc[4])).isEqualTo(Decision.STOP);
        assertThat(control.stopped).containsExactly("t2", "t3", "t1");
        assertThat(hb.choosePausedToResume(trials(0))).isSameAs(t(0));
    }

    @Test
    void aRungWaitsForTrialsNotYetAddedToTheBracket() {
        HyperBandScheduler hb = scheduler(12, 5); // bracket s=2 has 5 of 9 members, more samples to come
        double[] acc = {0.35, 0.9, 0.15, 0.6, 0.45, 0.8, 0.05, 0.25, 0.7};
        for (int i = 0; i < 5; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d", i).isEqualTo(Decision.PAUSE);
        assertThat(control.stopped).isEmpty();
        assertThat(hb.choosePausedToResume(trials(0, 1, 2, 3, 4))).isNull();

        add(hb, 4); // t5..t8 complete the bracket (9 members, 9 of 12 samples added)
        for (int i = 5; i < 8; i++) assertThat(report(hb, i, 1, acc[i])).as("t%d", i).isEqualTo(Decision.PAUSE);
        // ranking t1 .9, t5 .8, t8 .7 | t3 .6, t4 .45, t0 .35, t7 .25, t2 .15, t6 .05
        assertThat(report(hb, 8, 1, acc[8])).isEqualTo(Decision.CONTINUE);
        assertThat(control.stopped).containsExactly("t3", "t4", "t0", "t7", "t2", "t6");
        assertThat(hb.choosePausedToResume(trials(1, 5))).isSameAs(t(1));
        assertThat(hb.choosePausedToResume(trials(5))).isSameAs(t(5));
    }

    @Test
    void aDivergedTrialRanksLastNotFirst() {
        HyperBandScheduler hb = new HyperBandScheduler(ACC, 9, 3, 1, 3);
        hb.attach(control);
        add(hb, 3);
        assertThat(report(hb, 0, 1, 0.9)).isEqualTo(Decision.PAUSE);
        assertThat(report(hb, 1, 1, 0.8)).isEqualTo(Decision.PAUSE);
        // keep max(1, floor(3/3)) = 1: t0; the NaN is stopped, not kept
        assertThat(report(hb, 2, 1, Double.NaN)).isEqualTo(Decision.STOP);
        assertThat(control.stopped).containsExactly("t1");
        assertThat(hb.choosePausedToResume(trials(0, 1))).isSameAs(t(0));
    }
}
