package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Grid and random searchers, and the name-based factories. */
class SearcherFactoryTest {
    static final Objective ACC = new Objective("val_accuracy", true);

    @Test
    void gridSearcherEnumeratesEveryPointInKeyOrderThenRunsOut() {
        SearchSpace space = SearchSpace.parse("a_opt: {choice: [sgd, adam]}\nb_n: {grid_search: [1, 2, 3]}\nc_epochs: 10");
        GridSearcher g = new GridSearcher(space, 1);
        assertThat(g.capacity()).isEqualTo(6);
        List<Map<String, Object>> all = new ArrayList<>();
        for (int i = 0; i < 6; i++) all.add(g.suggest(i, List.of()));
        assertThat(all).containsExactly(
                Map.of("a_opt", "sgd", "b_n", 1L, "c_epochs", 10L), Map.of("a_opt", "sgd", "b_n", 2L, "c_epochs", 10L),
                Map.of("a_opt", "sgd", "b_n", 3L, "c_epochs", 10L), Map.of("a_opt", "adam", "b_n", 1L, "c_epochs", 10L),
                Map.of("a_opt", "adam", "b_n", 2L, "c_epochs", 10L), Map.of("a_opt", "adam", "b_n", 3L, "c_epochs", 10L));
        assertThat(g.suggest(6, List.of())).isNull();
        assertThat(g.suggest(100, List.of())).isNull();
    }

    @Test
    void randomSearcherIsAPureFunctionOfSeedAndTrialIndex() {
        SearchSpace space = SearchSpace.parse("x: {uniform: [0.0, 1.0]}");
        Map<String, Object> c = new RandomSearcher(space, 5).suggest(3, List.of());
        assertThat(c).isEqualTo(space.sample(new Random(Seeds.of(5, 3))));
        assertThat(new RandomSearcher(space, 5).suggest(3, List.of(new Trial("t0", 0, Map.of("x", 0.5))))).isEqualTo(c);
        assertThat(new RandomSearcher(space, 6).suggest(3, List.of())).isNotEqualTo(c);
        assertThat(new RandomSearcher(space, 5).capacity()).isEqualTo(-1);
    }

    /** Neighbouring trials must not get nearly the same first parameter (as Random(seed * k + index) would give). */
    @Test
    void neighbouringTrialsDrawIndependentValues() {
        SearchSpace space = SearchSpace.parse("x: {uniform: [0.0, 1.0]}");
        RandomSearcher r = new RandomSearcher(space, 3);
        double min = 1, max = 0;
        for (int i = 0; i < 20; i++) {
            double x = ((Number) r.suggest(i, List.of()).get("x")).doubleValue();
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        assertThat(max - min).isGreaterThan(0.5);
        assertThat(Seeds.of(3, 4)).isNotEqualTo(Seeds.of(3, 5)).isNotEqualTo(Seeds.of(4, 3));
    }

    @Test
    void schedulersAreBuiltByCaseInsensitiveName() {
        Schedulers.Options o = new Schedulers.Options(9, 1, 3, 2, 0.25, 0.25, 1);
        SearchSpace space = SearchSpace.parse("lr: {loguniform: [0.0001, 0.1]}");
        assertThat(Schedulers.create("fifo", ACC, o, 9, space)).isInstanceOf(FifoScheduler.class);
        assertThat(Schedulers.create("ASHA", ACC, o, 9, space)).isInstanceOf(AshaScheduler.class);
        assertThat(Schedulers.create("HyperBand", ACC, o, 9, space)).isInstanceOf(HyperBandScheduler.class);
        assertThat(Schedulers.create("median", ACC, o, 9, space)).isInstanceOf(MedianStoppingRule.class);
        assertThat(Schedulers.create("Median_Stopping", ACC, o, 9, space)).isInstanceOf(MedianStoppingRule.class);
        TrialScheduler pbt = Schedulers.create("pbt", ACC, o, 9, space);
        assertThat(pbt).isInstanceOf(PbtScheduler.class);
        assertThat(pbt.describePlan(9)).startsWith("PBT on val_accuracy (max): population 9, every 2 iterations the bottom 25%").contains("[lr]");
        assertThatThrownBy(() -> Schedulers.create("bohb", ACC, o, 9, space)).isInstanceOf(TuneException.class)
                .hasMessageContaining("unknown scheduler 'bohb'");
    }

    @Test
    void searchersAreBuiltByCaseInsensitiveName() {
        SearchSpace space = SearchSpace.parse("opt: {choice: [sgd, adam]}");
        assertThat(Schedulers.searcher("random", space, 1, ACC)).isInstanceOf(RandomSearcher.class);
        Searcher grid = Schedulers.searcher("GRID", space, 1, ACC);
        assertThat(grid).isInstanceOf(GridSearcher.class);
        assertThat(grid.capacity()).isEqualTo(2);
        assertThat(Schedulers.searcher("tpe", space, 1, ACC)).isInstanceOf(TpeSearcher.class);
        assertThatThrownBy(() -> Schedulers.searcher("hyperopt", space, 1, ACC)).isInstanceOf(TuneException.class)
                .hasMessageContaining("unknown searcher 'hyperopt'");
    }
}
