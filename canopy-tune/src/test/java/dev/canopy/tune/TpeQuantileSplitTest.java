package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * TPE's split of the history by quantile: the ceil(n / 4) best results are "good", the rest "bad"; a categorical
 * value scores log(good density) - log(bad density) with densities (count + 1) / (size + 2).
 */
class TpeQuantileSplitTest {
    static final SearchSpace ABCD = SearchSpace.parse("opt: {choice: [a, b, c, d]}");

    static Trial done(int i, Map<String, Object> config, double val) {
        Trial t = new Trial("t" + i, i, config);
        t.getResults().add(new TrialResult(t.id(), 1, Map.of("val", val)));
        t.setStatus(Trial.Status.COMPLETED);
        return t;
    }

    static List<Trial> history(String key, Object[] values, double[] vals) {
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < values.length; i++) h.add(done(i, Map.of(key, values[i]), vals[i]));
        return h;
    }

    static List<Object> proposals(TpeSearcher tpe, String key, List<Trial> history, int from, int to) {
        List<Object> out = new ArrayList<>();
        for (int i = from; i < to; i++) out.add(tpe.suggest(i, history).get(key));
        return out;
    }

    @Test
    void beforeEightResultsProposalsAreTheSeededRandomSample() {
        SearchSpace x = SearchSpace.parse("x: {uniform: [0.0, 1.0]}");
        TpeSearcher tpe = new TpeSearcher(x, 7, "val", true);
        Map<String, Object> first = tpe.suggest(3, List.of());
        assertThat(first).isEqualTo(x.sample(new Random(Seeds.of(7, 7_919L, 3))));
        List<Trial> seven = new ArrayList<>();
        for (int i = 0; i < 7; i++) seven.add(done(i, Map.of("x", 0.1 * i), i));
        assertThat(tpe.suggest(3, seven)).isEqualTo(first); // 7 < STARTUP: history ignored
        assertThat(new TpeSearcher(x, 8, "val", true).suggest(3, List.of())).isNotEqualTo(first);
    }

    @Test
    void eightResultsSplitIntoTwoGoodAndSixBad() {
        Object[] v = {"b", "a", "c", "d", "a", "b", "c", "d"};
        double[] s = {0.30, 0.90, 0.20, 0.10, 0.80, 0.35, 0.25, 0.15};
        List<Trial> h = history("opt", v, s);
        h.add(new Trial("r8", 8, Map.of("opt", "c"))); // running, no metric yet: not part of the split
        h.add(new Trial("r9", 9, Map.of("opt", "a")));
        // max: good = {a, a}; a: good 3/4, bad 1/8 (ratio 6); b: good 1/4, bad 3/8
        assertThat(proposals(new TpeSearcher(ABCD, 11, "val", true), "opt", h, 10, 30)).containsOnly("a");
        // min: the two lowest (d 0.10, d 0.15) are good
        assertThat(proposals(new TpeSearcher(ABCD, 11, "val", false), "opt", h, 10, 30)).containsOnly("d");
    }

    @Test
    void divergedTrialsAreNotGood() {
        Object[] v = {"b", "a", "c", "d", "a", "b", "c", "d"};
        double[] s = {0.30, 0.90, 0.20, 0.10, 0.80, 0.35, 0.25, 0.15};
        List<Trial> h = history("opt", v, s);
        // two diverged "c" trials: were NaN ranked best (Double.compare puts it above everything), c would be proposed
        h.add(done(8, Map.of("opt", "c"), Double.NaN));
        h.add(done(9, Map.of("opt", "c"), Double.NaN));
        assertThat(proposals(new TpeSearcher(ABCD, 11, "val", true), "opt", h, 10, 30)).containsOnly("a");
    }

    @Test
    void twelveResultsTakeTheBestThreeAsGood() {
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < 9; i++) h.add(done(i, Map.of("opt", "c"), 0.9 - 0.01 * i));
        h.add(done(9, Map.of("opt", "b"), 0.2));
        h.add(done(10, Map.of("opt", "a"), 0.1));
        h.add(done(11, Map.of("opt", "b"), 0.3));
        // min mode, ceil(12 / 4) = 3 good = {a, b, b}: a 2/5 vs 1/11, b 3/5 vs 1/11 -> b.
        // (Were only the single best good, a would win: 2/3 vs 1/11 against b 1/3 vs 3/11.)
        assertThat(proposals(new TpeSearcher(ABCD, 5, "val", false), "opt", h, 12, 32)).containsOnly("b");
    }

    @Test
    void proposalsConcentrateOnTheGoodValueAmongForty() {
        String forty = IntStream.range(0, 40).mapToObj(i -> "v" + i).collect(Collectors.joining(", "));
        for (String kind : List.of("choice", "grid_search")) {
            SearchSpace space = SearchSpace.parse("x: {" + kind + ": [" + forty + "]}");
            List<Trial> h = new ArrayList<>(List.of(done(0, Map.of("x", "v7"), 0.9), done(1, Map.of("x", "v7"), 0.8)));
            for (int i = 0; i < 6; i++) h.add(done(2 + i, Map.of("x", "v" + (10 + i)), 0.1 * i));
            // random candidates alone would hit v7 in only ~45% of 24-candidate rounds
            assertThat(proposals(new TpeSearcher(space, 3, "val", true), "x", h, 8, 28)).as(kind).containsOnly("v7");
        }
    }

    @Test
    void equallyGoodValuesTieAndOnlyThoseAreProposed() {
        Object[] v = {"c", "a", "d", "c", "b", "d", "c", "d"};
        double[] s = {0.1, 0.9, 0.2, 0.3, 0.8, 0.4, 0.5, 0.6};
        // good = {a, b}: each scores log(2/4) - log(1/8) exactly, the others less
        List<Object> p = proposals(new TpeSearcher(ABCD, 2, "val", true), "opt", history("opt", v, s), 8, 40);
        assertThat(p).containsOnly("a", "b").contains("a", "b");
    }

    @Test
    void conditionalBlocksAreNotModelledSoTheFirstCandidateIsKept() {
        SearchSpace space = SearchSpace.parse("""
                block:
                  choice:
                    - {opt: sgd, lr: {uniform: [0.01, 0.1]}}
                    - {opt: adam, beta1: {uniform: [0.8, 0.99]}}
                """);
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            if (i % 2 == 0) h.add(done(i, Map.of("opt", "sgd", "lr", 0.01 * (i + 1)), 0.1 * i));
            else h.add(done(i, Map.of("opt", "adam", "beta1", 0.8 + 0.01 * i), 0.1 * i));
        }
        // flat configs never hold the key "block": every candidate scores 0, the first one is proposed
        TpeSearcher tpe = new TpeSearcher(space, 4, "val", true);
        for (int i = 8; i < 12; i++) assertThat(tpe.suggest(i, h)).isEqualTo(space.sample(new Random(Seeds.of(4, 7_919L, i))));
    }
}
