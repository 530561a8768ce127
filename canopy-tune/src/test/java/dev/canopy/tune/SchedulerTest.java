package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Scheduler decisions on synthetic learning curves: no training. */
class SchedulerTest {
    static final Objective ACC = new Objective("val_accuracy", true);

    static Trial trial(int i, double quality) {
        return new Trial("t" + i, i, Map.of("quality", quality));
    }

    static TrialResult result(Trial t, int it) {
        double q = ((Number) t.config().get("quality")).doubleValue();
        TrialResult r = new TrialResult(t.id(), it, Map.of("val_accuracy", q * (1 - Math.exp(-it / 3.0))));
        t.getResults().add(r);
        return r;
    }

    @Test
    void ashaRungsAndCutoffs() {
        AshaScheduler asha = new AshaScheduler(ACC, 27, 1, 3);
        assertThat(asha.rungs()).containsExactly(1, 3, 9);
        // trials arrive in order of increasing quality: each new one beats the earlier ones at rung 1
        List<Trial> ts = new ArrayList<>();
        for (int i = 0; i < 9; i++) ts.add(trial(i, 0.1 * (i + 1)));
        for (Trial t : ts) assertThat(asha.onTrialResult(t, result(t, 1))).isEqualTo(Decision.CONTINUE);
        // a poor trial arriving late at rung 1 is below the top third and stops
        Trial poor = trial(99, 0.05);
        assertThat(asha.onTrialResult(poor, result(poor, 1))).isEqualTo(Decision.STOP);
        // between rungs nothing is judged
        assertThat(asha.onTrialResult(ts.get(0), result(ts.get(0), 2))).isEqualTo(Decision.CONTINUE);
        // at rung 3: the best arrives first (no cutoff yet), then worse ones are cut
        assertThat(asha.onTrialResult(ts.get(8), result(ts.get(8), 3))).isEqualTo(Decision.CONTINUE);
        assertThat(asha.onTrialResult(ts.get(7), result(ts.get(7), 3))).isEqualTo(Decision.STOP);
        assertThat(asha.describePlan(9)).contains("rung").contains("saved");
    }

    @Test
    void ashaValidatesByException() {
        assertThatThrownBy(() -> new AshaScheduler(ACC, 10, 0, 3)).hasMessageContaining("grace_period");
        assertThatThrownBy(() -> new AshaScheduler(ACC, 10, 1, 1)).hasMessageContaining("reduction_factor");
        AshaScheduler a = new AshaScheduler(new Objective("val_f1", true), 9, 1, 3);
        Trial t = trial(0, 0.5);
        assertThatThrownBy(() -> a.onTrialResult(t, result(t, 1))).hasMessageContaining("did not report metric 'val_f1'");
        assertThatThrownBy(() -> Objective.of("x", "maximum")).hasMessageContaining("mode");
    }

    @Test
    void medianStoppingStopsBelowMedianAfterGrace() {
        MedianStoppingRule m = new MedianStoppingRule(ACC, 2, 3);
        List<Trial> good = List.of(trial(0, 0.9), trial(1, 0.8), trial(2, 0.85));
        for (int it = 1; it <= 3; it++) for (Trial t : good) assertThat(m.onTrialResult(t, result(t, it))).isEqualTo(Decision.CONTINUE);
        Trial bad = trial(3, 0.3);
        assertThat(m.onTrialResult(bad, result(bad, 1))).isEqualTo(Decision.CONTINUE); // grace period
        assertThat(m.onTrialResult(bad, result(bad, 2))).isEqualTo(Decision.STOP);
    }

    @Test
    void hyperBandPausesUntilTheRungIsCompleteThenPromotesTheBest() {
        // max_t 9, eta 3, grace 1: s_max = 2; first bracket has 9 trials starting at 1 iteration
        HyperBandScheduler hb = new HyperBandScheduler(ACC, 9, 3, 1, 9);
        List<Trial> stopped = new ArrayList<>();
        hb.attach(new TrialScheduler.TrialControl() {
            @Override public boolean exploit(Trial target, Trial source, Map<String, Object> c) { return true; }
            @Override public void stop(Trial t) { stopped.add(t); }
        });
        List<Trial> ts = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            Trial t = trial(i, 0.1 * (i + 1));
            ts.add(t);
            hb.onTrialAdd(t);
        }
        for (int i = 0; i < 8; i++) assertThat(hb.onTrialResult(ts.get(i), result(ts.get(i), 1))).isEqualTo(Decision.PAUSE);
        // the last arrival completes the rung: it is the best, so it continues; 2 more are promoted, 6 stopped
        assertThat(hb.onTrialResult(ts.get(8), result(ts.get(8), 1))).isEqualTo(Decision.CONTINUE);
        assertThat(stopped).hasSize(6);
        List<Trial> paused = new ArrayList<>(ts.subList(0, 8));
        paused.removeAll(stopped);
        Trial resumed = hb.choosePausedToResume(paused);
        assertThat(resumed).isIn(ts.get(6), ts.get(7));
        assertThat(hb.describePlan(9)).contains("bracket");
    }

    @Test
    void pbtExploitsTopTrialsAndPerturbs() {
        SearchSpace mut = SearchSpace.parse("lr: {loguniform: [0.0001, 0.1]}");
        PbtScheduler pbt = new PbtScheduler(ACC, 2, 0.25, mut, 0.0, 7);
        Map<String, Trial> targets = new LinkedHashMap<>();
        pbt.attach(new TrialScheduler.TrialControl() {
            @Override public boolean exploit(Trial target, Trial source, Map<String, Object> c) {
                targets.put(target.id(), source);
                assertThat(((Number) c.get("lr")).doubleValue()).isIn(0.01 * 0.8, 0.01 * 1.2);
                return true;
            }
            @Override public void stop(Trial t) { }
        });
        List<Trial> ts = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Trial t = new Trial("t" + i, i, Map.of("quality", 0.2 * (i + 1), "lr", 0.01));
            ts.add(t);
            pbt.onTrialAdd(t);
        }
        for (int it = 1; it <= 2; it++) for (Trial t : ts) pbt.onTrialResult(t, result(t, it));
        assertThat(targets).containsOnlyKeys("t0");
        assertThat(targets.get("t0").id()).isEqualTo("t3");
    }
}
