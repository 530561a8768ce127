package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Sampling bounds of each domain, grid expansion, and flattening of nested and conditional blocks. */
class DomainSamplingTest {

    private static Set<Object> draws(Domain d, int n) {
        Random rng = new Random(42);
        Set<Object> out = new HashSet<>();
        for (int i = 0; i < n; i++) out.add(d.sample(rng));
        return out;
    }

    @Test
    void randintExcludesItsHighAndReachesEveryOtherValue() {
        assertThat(draws(new Domain.IntRange(0, 3, 1, false), 300)).containsExactlyInAnyOrder(0L, 1L, 2L);
        assertThat(draws(new Domain.IntRange(5, 6, 1, false), 50)).containsExactly(5L);
    }

    @Test
    void qrandintStepsByQAndIncludesItsHighWhenReachable() {
        assertThat(draws(new Domain.IntRange(32, 64, 16, true), 300)).containsExactlyInAnyOrder(32L, 48L, 64L);
        assertThat(draws(new Domain.IntRange(0, 10, 4, true), 300)).containsExactlyInAnyOrder(0L, 4L, 8L);
    }

    @Test
    void uniformCoversItsWholeRangeAndNothingElse() {
        Random rng = new Random(7);
        Domain.Uniform u = new Domain.Uniform(2.0, 3.0);
        double min = Double.MAX_VALUE, max = -Double.MAX_VALUE;
        for (int i = 0; i < 500; i++) {
            double v = (Double) u.sample(rng);
            assertThat(v).isGreaterThanOrEqualTo(2.0).isLessThan(3.0);
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertThat(min).isLessThan(2.1);
        assertThat(max).isGreaterThan(2.9);
    }

    @Test
    void gridAndGroupDomainsSampleTheirValues() {
        Random rng = new Random(3);
        Domain.Grid g = new Domain.Grid(List.of("cosine", "constant"));
        Set<Object> seen = new HashSet<>();
        for (int i = 0; i < 50; i++) seen.add(g.sample(rng));
        assertThat(seen).containsExactlyInAnyOrder("cosine", "constant");

        Map<String, Domain> children = new LinkedHashMap<>();
        children.put("name", new Domain.Constant("adam"));
        children.put("steps", new Domain.IntRange(4, 5, 1, false));
        assertThat(new Domain.Group(children).sample(rng)).isEqualTo(Map.of("name", "adam", "steps", 4L));
    }

    @Test
    void randomSearchSamplesGridParametersToo() {
        SearchSpace s = SearchSpace.parse("sched: {grid_search: [cosine, constant]}\nwd: {uniform: [2.0, 3.0]}");
        Random rng = new Random(11);
        for (int i = 0; i < 20; i++) {
            Map<String, Object> c = s.sample(rng);
            assertThat(c.get("sched")).isIn("cosine", "constant");
            assertThat((Double) c.get("wd")).isBetween(2.0, 3.0);
        }
    }

    @Test
    void nestedBlocksFlattenIntoTheConfiguration() {
        SearchSpace s = SearchSpace.parse("optimizer: {name: adam, lr: {uniform: [0.001, 0.01]}}\nepochs: 3");
        Map<String, Object> c = s.sample(new Random(9));
        assertThat(new ArrayList<>(c.keySet())).containsExactly("epochs", "lr", "name");
        assertThat(c).containsEntry("epochs", 3L).containsEntry("name", "adam");
        assertThat((Double) c.get("lr")).isBetween(0.001, 0.01);
    }

    @Test
    void gridExpandsGridAndChoiceValuesAndSamplesTheRest() {
        SearchSpace s = SearchSpace.parse("""
                opt: {grid_search: [sgd, adam]}
                bs: {choice: [16, 32]}
                epochs: 5
                wd: {uniform: [0.0, 0.1]}
                """);
        List<Map<String, Object>> g = s.grid(new Random(3));
        assertThat(g).extracting(m -> m.get("bs") + "/" + m.get("opt")).containsExactly("16/sgd", "16/adam", "32/sgd", "32/adam");
        for (Map<String, Object> m : g) {
            assertThat(new ArrayList<>(m.keySet())).containsExactly("bs", "epochs", "opt", "wd");
            assertThat(m).containsEntry("epochs", 5L);
            assertThat((Double) m.get("wd")).isBetween(0.0, 0.1);
        }
    }

    @Test
    void gridExpandsConditionalBranchesIntoTheirOwnKeys() {
        SearchSpace s = SearchSpace.parse("""
                lr: 0.1
                reg:
                  choice:
                    - {augment: true}
                    - {augment: false, class_weights: false}
                """);
        assertThat(s.grid(new Random(1))).containsExactly(
                Map.of("lr", 0.1, "augment", true),
                Map.of("lr", 0.1, "augment", false, "class_weights", false));
    }
}
