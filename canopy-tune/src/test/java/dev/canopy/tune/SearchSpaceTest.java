package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class SearchSpaceTest {
    static final String SPACE = """
            learning_rate: {loguniform: [0.0001, 0.01]}
            weight_decay: {uniform: [0.0, 0.001]}
            batch_size: {choice: [16, 32, 64]}
            input_size: {qrandint: [32, 64, 16]}
            seed: {randint: [0, 10]}
            lr_schedule: {grid_search: [cosine, constant]}
            epochs: 5
            regularise:
              choice:
                - {augment: true}
                - {augment: false, class_weights: false}
            """;

    @Property(seed = "42")
    void samplesStayInTheirDomains(@ForAll long seed) {
        Map<String, Object> c = SearchSpace.parse(SPACE).sample(new Random(seed));
        assertThat(((Number) c.get("learning_rate")).doubleValue()).isBetween(0.0001, 0.01);
        assertThat(c.get("batch_size")).isIn(16L, 32L, 64L);
        assertThat(c.get("input_size")).isIn(32L, 48L, 64L);
        assertThat(((Number) c.get("seed")).longValue()).isBetween(0L, 9L);
        assertThat(c.get("epochs")).isEqualTo(5L);
        assertThat(c).containsKey("augment");
        if (Boolean.FALSE.equals(c.get("augment"))) assertThat(c).containsEntry("class_weights", false);
        else assertThat(c).doesNotContainKey("class_weights");
    }

    @Test
    void gridCoversEveryCombination() {
        List<Map<String, Object>> g = SearchSpace.parse(SPACE).grid(new Random(1));
        assertThat(g).hasSize(3 * 2 * 2);
    }

    @Test
    void badSpacesNameTheKey() {
        assertThatThrownBy(() -> SearchSpace.parse("lr: {loguniform: [0, 1]}")).hasMessageContaining("'lr'").hasMessageContaining("low > 0");
        assertThatThrownBy(() -> SearchSpace.parse("lr: {uniform: [1]}")).hasMessageContaining("'lr'").hasMessageContaining("2 numbers");
        assertThatThrownBy(() -> SearchSpace.parse("bs: {choice: []}")).hasMessageContaining("'bs'");
        assertThatThrownBy(() -> SearchSpace.parse("bs: {choice: [1], extra: 2}")).hasMessageContaining("'bs'");
        assertThatThrownBy(() -> SearchSpace.parse("[1, 2]")).hasMessageContaining("map of parameter names");
        assertThatThrownBy(() -> SearchSpace.parse("x: {uniform: [2, 1]}")).hasMessageContaining("low < high");
    }

    @Test
    void narrowingShrinksAroundTheTop() {
        SearchSpace s = SearchSpace.parse("lr: {uniform: [0.0, 1.0]}\nbs: {choice: [16, 32, 64]}");
        SearchSpace n = s.narrow(List.of(Map.of("lr", 0.5, "bs", 32L), Map.of("lr", 0.6, "bs", 32L)));
        Domain.Uniform u = (Domain.Uniform) n.params().get("lr");
        assertThat(u.low()).isCloseTo(0.4, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(u.high()).isCloseTo(0.7, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(((Domain.Choice) n.params().get("bs")).values()).containsExactly(32L);
    }
}
