package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** PBT's explore step with scripted random draws, its argument checks and its plan text. */
class PbtExploreTest {
    static final Objective ACC = new Objective("val_accuracy", true);

    /** A Random whose draws are scripted: nextDouble() is always u, nextBoolean() answers in order, nextInt(n) = (int) (u * n). */
    static final class Scripted extends Random {
        private final double u;
        private final Deque<Boolean> booleans;

        Scripted(double u, Boolean... booleans) {
            this.u = u;
            this.booleans = new ArrayDeque<>(List.of(booleans));
        }

        @Override public double nextDouble() { return u; }
        @Override public boolean nextBoolean() { return booleans.removeFirst(); }
        @Override public int nextInt(int bound) { return (int) (u * bound); }
    }

    /** One mutable parameter, resample probability 0.25. */
    static PbtScheduler pbt(String space) {
        return new PbtScheduler(ACC, 1, 0.25, SearchSpace.parse(space), 0.25, 0);
    }

    static double num(Map<String, Object> config, String key) {
        return ((Number) config.get(key)).doubleValue();
    }

    @Test
    void realsAreScaledByPointEightOrOnePointTwoAndClamped() {
        PbtScheduler p = pbt("x: {uniform: [0.0, 1.0]}");
        Map<String, Object> base = Map.of("x", 0.5, "other", "kept");
        assertThat(p.explore(base, new Scripted(0.5, true))).containsEntry("other", "kept").containsOnlyKeys("x", "other");
        assertThat(num(p.explore(base, new Scripted(0.5, true)), "x")).isCloseTo(0.4, within(1e-12));
        assertThat(num(p.explore(base, new Scripted(0.5, false)), "x")).isCloseTo(0.6, within(1e-12));
        assertThat(num(p.explore(Map.of("x", 0.95), new Scripted(0.5, false)), "x")).isEqualTo(1.0); // 1.14 clamps
        PbtScheduler log = pbt("lr: {loguniform: [0.0001, 0.1]}");
        assertThat(num(log.explore(Map.of("lr", 0.01), new Scripted(0.5, true)), "lr")).isCloseTo(0.008, within(1e-15));
        assertThat(num(log.explore(Map.of("lr", 0.1), new Scripted(0.5, false)), "lr")).isEqualTo(0.1);
    }

    @Test
    void resamplesBelowTheResampleProbabilityOrWhenTheValueIsMissing() {
        PbtScheduler p = pbt("x: {uniform: [0.0, 1.0]}");
        Map<String, Object> base = Map.of("x", 0.5);
        // u = 0.2 < 0.25: a fresh sample, 0 + (1 - 0) * u (no boolean is drawn)
        assertThat(num(p.explore(base, new Scripted(0.2)), "x")).isEqualTo(0.2);
        // u = 0.25 is not below 0.25: perturbed
        assertThat(num(p.explore(base, new Scripted(0.25, true)), "x")).isCloseTo(0.4, within(1e-12));
        // the source lacks the parameter: sampled
        assertThat(num(p.explore(Map.of(), new Scripted(0.7)), "x")).isEqualTo(0.7);
    }

    @Test
    void integersAreScaledClampedAndSnappedToTheirStep() {
        PbtScheduler q = pbt("bs: {qrandint: [8, 64, 8]}");
        assertThat(q.explore(Map.of("bs", 40L), new Scripted(0.5, true))).containsEntry("bs", 32L);
        assertThat(q.explore(Map.of("bs", 40L), new Scripted(0.5, false))).containsEntry("bs", 48L);
        assertThat(q.explore(Map.of("bs", 60L), new Scripted(0.5, false))).containsEntry("bs", 64L); // 72 -> inclusive high
        PbtScheduler r = pbt("n: {randint: [0, 10]}");
        assertThat(r.explore(Map.of("n", 9L), new Scripted(0.5, false))).containsEntry("n", 9L); // 10.8 -> 9: randint excludes 10
        assertThat(r.explore(Map.of("n", 5L), new Scripted(0.5, true))).containsEntry("n", 4L);
    }

    @Test
    void choicesMoveToANeighbourAndStopAtTheEnds() {
        PbtScheduler c = pbt("opt: {choice: [sgd, adam, rmsprop]}");
        // first boolean: the (unused) factor; second: up (true) or down (false)
        assertThat(c.explore(Map.of("opt", "adam"), new Scripted(0.5, true, true))).containsEntry("opt", "rmsprop");
        assertThat(c.explore(Map.of("opt", "adam"), new Scripted(0.5, true, false))).containsEntry("opt", "sgd");
        assertThat(c.explore(Map.of("opt", "rmsprop"), new Scripted(0.5, false, true))).containsEntry("opt", "rmsprop");
        assertThat(c.explore(Map.of("opt", "sgd"), new Scripted(0.5, false, false))).containsEntry("opt", "sgd");
        // numbers read back from experiment.json are Integers, the space's are Longs: still found by value
        PbtScheduler bs = pbt("bs: {choice: [16, 32, 64]}");
        assertThat(bs.explore(Map.of("bs", 32), new Scripted(0.5, true, true))).containsEntry("bs", 64L);
        assertThat(bs.explore(Map.of("bs", 32), new Scripted(0.5, true, false))).containsEntry("bs", 16L);
        // a value outside the list counts as the first one
        assertThat(c.explore(Map.of("opt", "nadam"), new Scripted(0.5, true, true))).containsEntry("opt", "adam");
    }

    @Test
    void validatesIntervalAndQuantileAtTheirBoundaries() {
        SearchSpace s = SearchSpace.parse("x: {uniform: [0.0, 1.0]}");
        assertThatCode(() -> new PbtScheduler(ACC, 1, 0.5, s, 0.25, 0)).doesNotThrowAnyException();
        assertThatThrownBy(() -> new PbtScheduler(ACC, 0, 0.25, s, 0.25, 0)).isInstanceOf(TuneException.class)
                .hasMessageContaining("perturbation_interval");
        assertThatThrownBy(() -> new PbtScheduler(ACC, 1, 0.0, s, 0.25, 0)).hasMessageContaining("quantile_fraction");
        assertThatThrownBy(() -> new PbtScheduler(ACC, 1, 0.51, s, 0.25, 0)).hasMessageContaining("quantile_fraction");
        assertThatThrownBy(() -> new PbtScheduler(ACC, 1, Double.NaN, s, 0.25, 0)).hasMessageContaining("quantile_fraction");
    }

    @Test
    void planNamesMetricModeAndQuantiles() {
        SearchSpace s = SearchSpace.parse("lr: {loguniform: [0.0001, 0.1]}");
        assertThat(new PbtScheduler(ACC, 4, 0.25, s, 0.25, 1).describePlan(8)).startsWith(
                "PBT on val_accuracy (max): population 8, every 4 iterations the bottom 25% copy a top-25% trial's checkpoint and perturb [lr]");
        assertThat(new PbtScheduler(new Objective("val_loss", false), 3, 0.5, s, 0.25, 1).describePlan(4)).startsWith(
                "PBT on val_loss (min): population 4, every 3 iterations the bottom 50% copy a top-50% trial's checkpoint and perturb [lr]");
    }
}
