package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BohbSearcherTest {
    static final SearchSpace X = SearchSpace.parse("x: {uniform: [0, 1]}");

    /** A paused trial that reported {@code score} at each of {@code iterations}. */
    static Trial reported(int i, double x, double score, int... iterations) {
        Trial t = new Trial("t" + i, i, Map.of("x", x));
        for (int it : iterations) t.getResults().add(new TrialResult(t.id(), it, Map.of("val", score)));
        t.setStatus(Trial.Status.PAUSED);
        return t;
    }

    @Test
    void fitsTheLargestBudgetWithEnoughResultsBestFirst() {
        BohbSearcher bohb = new BohbSearcher(X, 1, "val", true);
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < 12; i++) h.add(reported(i, i / 100.0, i / 12.0, 1)); // budget 1 only, scores up to 11/12
        for (int i = 12; i < 17; i++) h.add(reported(i, i / 100.0, 0.3 + i / 100.0, 1, 2, 3)); // 5 reach budget 3
        List<Map<String, Object>> data = bohb.modelData(h);
        assertThat(data).hasSize(17); // budgets 2 and 3 hold 5 results each, fewer than 8: the model stays at budget 1
        assertThat(data.get(0)).isEqualTo(Map.of("x", 0.11)); // score 11/12, the best at budget 1
        assertThat(data.get(16)).isEqualTo(Map.of("x", 0.0)); // score 0

        for (int i = 17; i < 20; i++) h.add(reported(i, i / 100.0, 0.3 + i / 100.0, 1, 2, 3)); // now 8 at budget 3
        data = bohb.modelData(h);
        assertThat(data).hasSize(8);
        assertThat(data.get(0)).isEqualTo(Map.of("x", 0.19)); // the best of the 8 that reached budget 3
        assertThat(data.get(7)).isEqualTo(Map.of("x", 0.12));

        BohbSearcher minimise = new BohbSearcher(X, 1, "val", false);
        assertThat(minimise.modelData(h).get(0)).isEqualTo(Map.of("x", 0.12));
        assertThat(new BohbSearcher(X, 1, "val", true).modelData(h.subList(0, 7))).isNull(); // 7 results anywhere: random
    }

    @Test
    void overAPoolItRanksUnusedConfigurationsByTheModelAndNeverRepeats() {
        List<Map<String, Object>> pool = new ArrayList<>();
        for (int i = 0; i < 40; i++) pool.add(Map.of("x", i / 40.0));
        BohbSearcher bohb = BohbSearcher.overPool(X, 3, "val", true, pool);
        assertThat(bohb.capacity()).isEqualTo(40);
        assertThat(bohb.seesRunningTrials()).isTrue();
        // ten trials of the pool's lower half reported at budget 1; the score grows with x
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < 10; i++) h.add(reported(i, pool.get(2 * i).get("x") instanceof Double d ? d : 0, 2 * i / 40.0, 1));
        // the model's choice is the same whatever the trial's random stream; a third of proposals are random on purpose
        Map<Map<String, Object>, Integer> counts = new java.util.HashMap<>();
        for (int i = 10; i < 40; i++) counts.merge(bohb.suggest(i, h), 1, Integer::sum);
        Map.Entry<Map<String, Object>, Integer> top = counts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
        assertThat(pool).containsAll(counts.keySet());
        assertThat(top.getValue()).as("model proposals (about 2 in 3) agree: %s", counts).isGreaterThanOrEqualTo(12);
        assertThat((Double) top.getKey().get("x")).as("the model points at large x, away from the bad results").isGreaterThanOrEqualTo(0.75);
        // proposals never repeat a configuration already tried, and run out with the pool
        Set<Map<String, Object>> seen = new HashSet<>();
        for (Trial t : h) seen.add(t.config());
        for (int i = 10; i < 40; i++) {
            Map<String, Object> c = bohb.suggest(i, h);
            assertThat(seen.add(c)).as("proposal %d repeats %s", i, c).isTrue();
            h.add(reported(i, (Double) c.get("x"), (Double) c.get("x"), 1));
        }
        assertThat(bohb.suggest(40, h)).isNull();
    }

    @Test
    void withoutAPoolItDrawsFromTheSpaceAndIsDeterministicPerSeed() {
        List<Trial> h = new ArrayList<>();
        for (int i = 0; i < 9; i++) h.add(reported(i, i / 10.0, i / 10.0, 1));
        Map<String, Object> a = new BohbSearcher(X, 5, "val", true).suggest(9, h);
        assertThat(new BohbSearcher(X, 5, "val", true).suggest(9, h)).isEqualTo(a);
        assertThat((Double) a.get("x")).isBetween(0.0, 1.0);
        assertThat(Schedulers.searcher("bohb", X, 1, new Objective("val", true))).isInstanceOf(BohbSearcher.class);
    }
}
