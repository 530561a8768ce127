package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * PBT exploit/explore on fixed scores with a recording TrialControl. The random draws are those of
 * new Random(Seeds.of(seed, index, iteration)): nextInt(k) picks the source among the top k,
 * nextDouble() is compared with resample_probability (0 here: never resample), nextBoolean() picks x0.8 (true) or x1.2.
 * The draws named in the comments were computed once with that formula.
 */
class PbtWorkedExampleTest {
    static final Objective ACC = new Objective("val_accuracy", true);
    static final SearchSpace X = SearchSpace.parse("x: {uniform: [0.0, 1.0]}");

    /** Records exploit/stop calls and, like the runner, gives the target its new configuration. */
    static final class Recorder implements TrialScheduler.TrialControl {
        final List<String> calls = new ArrayList<>();
        final List<Double> xs = new ArrayList<>();
        boolean refuse;

        @Override public boolean exploit(Trial target, Trial source, Map<String, Object> newConfig) {
            if (refuse) {
                calls.add("refused " + target.id() + "<-" + source.id());
                return false;
            }
            calls.add(target.id() + "<-" + source.id());
            xs.add(((Number) newConfig.get("x")).doubleValue());
            target.setConfig(newConfig);
            return true;
        }

        @Override public void stop(Trial trial) {
            calls.add("stop " + trial.id());
        }
    }

    static PbtScheduler pbt(int interval, double quantile, long seed, Recorder r, Trial... trials) {
        PbtScheduler p = new PbtScheduler(ACC, interval, quantile, X, 0.0, seed);
        p.attach(r);
        for (Trial t : trials) p.onTrialAdd(t);
        return p;
    }

    static Decision report(PbtScheduler p, Trial t, int iteration, double acc) {
        return p.onTrialResult(t, new TrialResult(t.id(), iteration, Map.of("val_accuracy", acc)));
    }

    @Test
    void twoTrialsAreEnoughToExploit() {
        Trial t0 = new Trial("t0", 0, Map.of("x", 0.5));
        Trial t1 = new Trial("t1", 1, Map.of("x", 0.1));
        Recorder r = new Recorder();
        PbtScheduler p = pbt(1, 0.5, 7, r, t0, t1);
        // alone in the population: nothing to compare with
        assertThat(report(p, t0, 1, 0.9)).isEqualTo(Decision.CONTINUE);
        assertThat(r.calls).isEmpty();
        // n = 2, k = ceil(2 * 0.5) = 1: t1 is the bottom one and copies t0; nextBoolean() = false -> x1.2
        assertThat(report(p, t1, 1, 0.2)).isEqualTo(Decision.CONTINUE);
        assertThat(r.calls).containsExactly("t1<-t0");
        assertThat(r.xs.get(0)).isCloseTo(0.6, within(1e-12));
    }

    @Test
    void aMiddleTrialThatDrawsItselfIsLeftAlone() {
        Trial a = new Trial("a", 0, Map.of("x", 0.5));
        Trial b = new Trial("b", 1, Map.of("x", 0.9));
        Trial c = new Trial("c", 2, Map.of("x", 0.1));
        Recorder r = new Recorder();
        PbtScheduler p = pbt(1, 0.5, 7, r, a, b, c);
        List<Decision> decisions = new ArrayList<>();
        decisions.add(report(p, c, 1, 0.1)); // alone
        decisions.add(report(p, b, 1, 0.9)); // ranked [b, c]: b is on top
        // ranked [b, a, c], k = ceil(3 * 0.5) = 2: a (rank 2) is both in the bottom 2 and in the top 2;
        // nextInt(2) = 1 -> ranked[1] = a itself: no exploit
        decisions.add(report(p, a, 1, 0.5));
        assertThat(r.calls).isEmpty();
        // c at iteration 2: nextInt(2) = 1 -> a; nextBoolean() = true -> 0.5 * 0.8
        decisions.add(report(p, c, 2, 0.1));
        assertThat(decisions).containsOnly(Decision.CONTINUE);
        assertThat(r.calls).containsExactly("c<-a");
        assertThat(r.xs.get(0)).isCloseTo(0.4, within(1e-12));
    }

    @Test
    void populationOfFourExploitsEveryTwoIterations() {
        double[] acc = {0.2, 0.4, 0.6, 0.8};
        double[] x = {0.1, 0.2, 0.3, 0.5};
        List<Trial> ts = new ArrayList<>();
        for (int i = 0; i < 4; i++) ts.add(new Trial("t" + i, i, Map.of("x", x[i])));
        Recorder r = new Recorder();
        PbtScheduler p = pbt(2, 0.5, 2, r, ts.toArray(new Trial[0]));
        List<Decision> decisions = new ArrayList<>();
        for (int it = 1; it <= 5; it++) {
            for (int i = 3; i >= 0; i--) decisions.add(report(p, ts.get(i), it, acc[i])); // best first: the bottom report last
            r.calls.add("end " + it);
        }
        // iteration 2: t1 (rank 3 of 4, k = 2) copies t3 (nextInt 0, x0.8 -> 0.4) and takes its score, so ranked =
        //   [t3, t1, t2, t0] (ties keep first-report order); t0 draws nextInt 0 -> t3, x0.8 -> 0.4.
        // iterations 1, 3, 5: fewer than 2 iterations since the last perturbation: nothing happens.
        // iteration 4: t1 <- t3 again (x1.2 -> 0.6); t0 draws nextInt 1 -> t1 (its new config 0.6), x1.2 -> 0.72
        assertThat(decisions).hasSize(20).containsOnly(Decision.CONTINUE);
        assertThat(r.calls).containsExactly("end 1", "t1<-t3", "t0<-t3", "end 2", "end 3", "t1<-t3", "t0<-t1", "end 4", "end 5");
        assertThat(r.xs).hasSize(4);
        assertThat(r.xs.get(0)).isCloseTo(0.4, within(1e-12));
        assertThat(r.xs.get(1)).isCloseTo(0.4, within(1e-12));
        assertThat(r.xs.get(2)).isCloseTo(0.6, within(1e-12));
        assertThat(r.xs.get(3)).isCloseTo(0.72, within(1e-12));
        assertThat(ts.get(0).config()).containsOnlyKeys("x");
    }

    @Test
    void aRefusedExploitDoesNotLendTheTargetTheSourcesScore() {
        // seed 1, iteration 2: t1 (bottom half) draws nextInt 0 -> t3, but the runner cannot copy (no checkpoint yet),
        // so t1 keeps its own score 0.4 and the ranking stays [t3, t2, t1, t0]; t0 then draws nextInt 1 -> t2.
        // Had t1 been lent t3's score, ranked[1] would be t1.
        double[] acc = {0.2, 0.4, 0.6, 0.8};
        List<Trial> ts = new ArrayList<>();
        for (int i = 0; i < 4; i++) ts.add(new Trial("t" + i, i, Map.of("x", 0.5)));
        Recorder r = new Recorder();
        r.refuse = true;
        PbtScheduler p = pbt(2, 0.5, 1, r, ts.toArray(new Trial[0]));
        for (int it = 1; it <= 2; it++) for (int i = 3; i >= 0; i--) report(p, ts.get(i), it, acc[i]);
        assertThat(r.calls).containsExactly("refused t1<-t3", "refused t0<-t2");
    }

    @Test
    void aFailedTrialIsNoLongerASource() {
        Trial good = new Trial("good", 0, Map.of("x", 0.5));
        Trial bad = new Trial("bad", 1, Map.of("x", 0.1));
        Recorder r = new Recorder();
        PbtScheduler p = pbt(1, 0.5, 7, r, good, bad);
        report(p, good, 1, 0.9);
        p.onTrialError(good);
        assertThat(report(p, bad, 1, 0.2)).isEqualTo(Decision.CONTINUE); // alone now: nobody to copy
        assertThat(r.calls).isEmpty();
    }
}
