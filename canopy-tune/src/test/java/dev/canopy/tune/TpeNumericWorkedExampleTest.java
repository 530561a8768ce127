package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * TPE on numeric parameters, seeded: candidates are good values plus N(0, range/5) noise (in log space for
 * loguniform), scored by Gaussian-kernel densities plus a 1e-3/range floor. Each test asserts where proposals must
 * fall (the reason) and pins the exact seeded values (so a change in the arithmetic is noticed).
 */
class TpeNumericWorkedExampleTest {
    static Trial done(int i, String key, Object value, double val) {
        Trial t = new Trial("t" + i, i, Map.of(key, value));
        t.getResults().add(new TrialResult(t.id(), 1, Map.of("val", val)));
        t.setStatus(Trial.Status.COMPLETED);
        return t;
    }

    static List<Object> run(TpeSearcher tpe, String key, List<Trial> h, int from, int to) {
        List<Object> out = new ArrayList<>();
        for (int i = from; i < to; i++) out.add(tpe.suggest(i, h).get(key));
        return out;
    }

    @Test
    void uniformProposalsMoveBeyondTheBestSeenAwayFromTheBadCluster() {
        SearchSpace space = SearchSpace.parse("x: {uniform: [2.0, 12.0]}");
        double[] xs = {2.2, 2.5, 2.8, 3.3, 3.5, 4.4, 4.9, 6.7}; // metric = x: good = {6.7, 4.9}
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < xs.length; i++) h.add(done(i, "x", xs[i], xs[i]));
        List<Object> p = run(new TpeSearcher(space, 17, "val", true), "x", h, 8, 14);
        for (Object x : p) assertThat(((Number) x).doubleValue()).isBetween(4.9, 12.0);
        double[] pinned = {9.717395087676401, 10.134600765665487, 12.0, 10.784704388758286, 9.59636115211644, 10.20215109286151};
        for (int i = 0; i < pinned.length; i++) assertThat(((Number) p.get(i)).doubleValue()).isCloseTo(pinned[i], within(1e-9));
    }

    @Test
    void logUniformProposalsStayNearTheBestDecade() {
        SearchSpace space = SearchSpace.parse("lr: {loguniform: [0.00001, 1.0]}");
        double[] xs = {2e-5, 5e-5, 1.5e-4, 4e-4, 8e-4, 1.2e-3, 3e-3, 9e-3, 2.5e-2, 6e-2, 0.2, 0.7};
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < xs.length; i++) h.add(done(i, "lr", xs[i], -Math.abs(Math.log10(xs[i]) + 3))); // best at 1e-3
        List<Object> p = run(new TpeSearcher(space, 17, "val", true), "lr", h, 12, 16);
        for (Object x : p) assertThat(((Number) x).doubleValue()).isBetween(1e-4, 1e-2);
        double[] pinned = {5.474321555527089E-4, 4.466852429279345E-4, 5.067814554484987E-4, 6.585822144476081E-4};
        for (int i = 0; i < pinned.length; i++) assertThat(((Number) p.get(i)).doubleValue()).isCloseTo(pinned[i], within(1e-12));
    }

    @Test
    void randintProposalsStayBelowTheExclusiveHigh() {
        SearchSpace space = SearchSpace.parse("n: {randint: [100, 120]}");
        long[] xs = {101, 103, 104, 106, 107, 109, 110, 112}; // metric = n: the unexplored top is pushed to, 120 never
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < xs.length; i++) h.add(done(i, "n", xs[i], xs[i]));
        List<Object> p = run(new TpeSearcher(space, 23, "val", true), "n", h, 8, 14);
        for (Object x : p) assertThat((Long) x).isBetween(110L, 119L);
        assertThat(p).containsExactly(119L, 119L, 116L, 119L, 119L, 117L);
    }

    @Test
    void qrandintProposalsAreStepsNearTheBest() {
        SearchSpace space = SearchSpace.parse("bs: {qrandint: [16, 256, 16]}");
        long[] xs = {16, 32, 48, 64, 96, 112, 128, 144, 176, 208, 240, 256};
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < xs.length; i++) h.add(done(i, "bs", xs[i], -Math.abs(xs[i] - 128) - 0.001 * i)); // best 128
        List<Object> p = run(new TpeSearcher(space, 17, "val", true), "bs", h, 12, 18);
        for (Object x : p) {
            assertThat((Long) x % 16).isZero();
            assertThat((Long) x).isBetween(96L, 160L);
        }
        assertThat(p).containsExactly(128L, 128L, 128L, 128L, 128L, 128L);
    }

    @Test
    void aVeryWideRangeStillYieldsProposalsAtTheGoodEnd() {
        // densities per unit are ~1e-13 here, below the 1e-12 added before each logarithm
        SearchSpace space = SearchSpace.parse("x: {uniform: [0, 10000000000000]}");
        double[] xs = {1e11, 2e11, 3e11, 4e11, 5e11, 6e11, 7e11, 8e11, 9e11, 9.5e12, 9.7e12, 9.9e12};
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < xs.length; i++) h.add(done(i, "x", xs[i], xs[i] / 1e13));
        TpeSearcher tpe = new TpeSearcher(space, 17, "val", true);
        for (int i = 12; i < 16; i++) {
            Map<String, Object> c = tpe.suggest(i, h);
            assertThat(c).as("trial %d", i).isNotNull();
            assertThat(((Number) c.get("x")).doubleValue()).isGreaterThan(9e12).isLessThanOrEqualTo(1e13);
        }
    }
}
