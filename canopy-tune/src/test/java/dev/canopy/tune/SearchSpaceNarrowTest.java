package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** narrow() for every kind of domain, same() across boxed number types, and the JSON round trip. */
class SearchSpaceNarrowTest {

    @Test
    void uniformIsPaddedByATenthOfItsOldRangeAndClippedToIt() {
        SearchSpace s = SearchSpace.parse("x: {uniform: [1.0, 3.0]}");
        Domain.Uniform u = (Domain.Uniform) s.narrow(List.of(Map.of("x", 2.0))).params().get("x");
        assertThat(u.low()).isCloseTo(1.8, within(1e-9));   // pad = 0.1 * (3 - 1)
        assertThat(u.high()).isCloseTo(2.2, within(1e-9));
        Domain d = s.narrow(List.of(Map.of("x", 2.9), Map.of("x", 1.05))).params().get("x");
        assertThat(d).isEqualTo(new Domain.Uniform(1.0, 3.0)); // [0.85, 3.1] clipped
    }

    @Test
    void qrandintIsPaddedByATenthOfItsRangeRoundedToQ() {
        // pad = max(10, (1100 - 100) / 10 / 10 * 10) = 100
        SearchSpace s = SearchSpace.parse("size: {qrandint: [100, 1100, 10]}");
        assertThat(s.narrow(List.of(Map.of("size", 400), Map.of("size", 500))).params().get("size"))
                .isEqualTo(new Domain.IntRange(300, 600, 10, true));
    }

    @Test
    void thePadIsAtLeastOneStep() {
        // (40 - 0) / 10 / 16 * 16 = 0, so the pad is q = 16
        SearchSpace s = SearchSpace.parse("size: {qrandint: [0, 40, 16]}");
        assertThat(s.narrow(List.of(Map.of("size", 16))).params().get("size")).isEqualTo(new Domain.IntRange(0, 32, 16, true));
    }

    @Test
    void randintNarrowsToAnInclusiveRangeBelowItsExclusiveHigh() {
        SearchSpace s = SearchSpace.parse("seed: {randint: [0, 10]}");
        assertThat(s.narrow(List.of(Map.of("seed", 9), Map.of("seed", 8))).params().get("seed"))
                .isEqualTo(new Domain.IntRange(7, 9, 1, true)); // 9 + 1 clipped to 10 - 1
    }

    @Test
    void gridKeepsTheValuesTheTopUsedInTheirOriginalOrder() {
        SearchSpace s = SearchSpace.parse("sched: {grid_search: [cosine, constant, step]}");
        assertThat(s.narrow(List.of(Map.of("sched", "step"), Map.of("sched", "cosine"))).params().get("sched"))
                .isEqualTo(new Domain.Grid(List.of("cosine", "step")));
        assertThat(s.narrow(List.of(Map.of("sched", "linear"))).params().get("sched"))
                .isEqualTo(new Domain.Grid(List.of("cosine", "constant", "step")));
    }

    @Test
    void aChoiceWithAConditionalBranchIsNotNarrowed() {
        SearchSpace s = SearchSpace.parse("reg: {choice: [plain, {augment: true}]}");
        assertThat(((Domain.Choice) s.params().get("reg")).values()).hasSize(2);
        assertThat(s.narrow(List.of(Map.of("reg", "plain"))).params().get("reg")).isEqualTo(s.params().get("reg"));
    }

    @Test
    void keysTheTopNeverSetKeepTheirDomain() {
        SearchSpace s = SearchSpace.parse("size: {qrandint: [100, 1100, 10]}\nx: {uniform: [1.0, 3.0]}");
        assertThat(s.narrow(List.of(Map.of("other", 1))).params()).isEqualTo(s.params());
    }

    @Test
    void sameComparesNumbersByValueAcrossBoxedTypes() {
        assertThat(SearchSpace.same(16L, 16)).isTrue();
        assertThat(SearchSpace.same(16L, 17)).isFalse();
        assertThat(SearchSpace.same(0.5, 0.5)).isTrue();
        assertThat(SearchSpace.same(0.5f, 0.5)).isTrue();
        assertThat(SearchSpace.same(2.0, 2L)).isTrue();
        assertThat(SearchSpace.same(1.5, 1L)).isFalse();
        assertThat(SearchSpace.same(1L, 1.5)).isFalse();
        assertThat(SearchSpace.same(1.5f, 1L)).isFalse();
        assertThat(SearchSpace.same(1L, 1.5f)).isFalse();
        assertThat(SearchSpace.same("adam", "adam")).isTrue();
        assertThat(SearchSpace.same("adam", "sgd")).isFalse();
        assertThat(SearchSpace.same("16", 16L)).isFalse();
    }

    @Test
    void everyKindSurvivesItsJsonForm() {
        SearchSpace s = SearchSpace.parse("""
                lr: {loguniform: [0.0001, 0.01]}
                wd: {uniform: [0.0, 0.001]}
                bs: {choice: [16, 32, 64]}
                size: {qrandint: [32, 64, 16]}
                seed: {randint: [0, 10]}
                sched: {grid_search: [cosine, constant]}
                epochs: 5
                dropout: 0.5
                opt: adam
                layers: [64, 32]
                optimizer: {name: sgd, momentum: {uniform: [0.8, 0.99]}}
                reg:
                  choice:
                    - {augment: true}
                    - {augment: false, class_weights: false}
                """);
        String json = s.toJson();
        assertThat(json).startsWith("{");
        assertThat(SearchSpace.parse(json).params()).isEqualTo(s.params());
        // randint keeps its exclusive high through the JSON form
        assertThat(SearchSpace.parse(json).params().get("seed")).isEqualTo(new Domain.IntRange(0, 10, 1, false));
    }
}
