package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Parse errors name the offending key; the bounds each kind accepts; constants keep their JSON types. */
class SearchSpaceParseTest {

    private static void rejects(String space, String... fragments) {
        var thrown = assertThatThrownBy(() -> SearchSpace.parse(space)).isInstanceOf(TuneException.class);
        for (String f : fragments) thrown.hasMessageContaining(f);
    }

    @Test
    void continuousAndRandintRangesMustNotBeEmpty() {
        rejects("lr: {uniform: [1, 1]}", "'lr'", "uniform needs low < high");
        rejects("lr: {loguniform: [0.5, 0.5]}", "'lr'", "loguniform needs low < high");
        rejects("seed: {randint: [5, 5]}", "'seed'", "randint needs whole low < high");
        rejects("seed: {randint: [0.5, 3]}", "'seed'", "randint needs whole low < high");
        rejects("seed: {randint: [0, 2.5]}", "'seed'", "randint needs whole");
    }

    @Test
    void qrandintNeedsAWholeStepOfAtLeastOneAndOrderedBounds() {
        rejects("size: {qrandint: [32, 64, 0]}", "'size'", "whole q >= 1");
        rejects("size: {qrandint: [32, 64, 2.5]}", "'size'", "whole q >= 1");
        rejects("size: {qrandint: [64, 32, 16]}", "'size'", "qrandint needs [low, high, q]");
    }

    @Test
    void qrandintAcceptsAStepOfOneAndASinglePointRange() {
        SearchSpace s = SearchSpace.parse("a: {qrandint: [0, 10, 1]}\nb: {qrandint: [8, 8, 4]}\nc: {randint: [0, 1]}");
        assertThat(s.params().get("a")).isEqualTo(new Domain.IntRange(0, 10, 1, true));
        assertThat(s.params().get("b")).isEqualTo(new Domain.IntRange(8, 8, 4, true));
        assertThat(s.params().get("c")).isEqualTo(new Domain.IntRange(0, 1, 1, false));
        Random rng = new Random(5);
        for (int i = 0; i < 20; i++) {
            Map<String, Object> c = s.sample(rng);
            assertThat(c.get("b")).isEqualTo(8L);
            assertThat(c.get("c")).isEqualTo(0L); // randint excludes its high
        }
    }

    @Test
    void aWrongArityNamesTheExpectedListInTheFix() {
        assertThatThrownBy(() -> SearchSpace.parse("size: {qrandint: [32, 64]}"))
                .hasMessageContaining("'size'")
                .hasMessageContaining("qrandint needs 3 numbers, got 2")
                .isInstanceOfSatisfying(TuneException.class, e -> assertThat(e.fix()).isEqualTo("e.g. qrandint: [low, high, q]"));
        assertThatThrownBy(() -> SearchSpace.parse("lr: {uniform: [1, 2, 3]}"))
                .hasMessageContaining("'lr'")
                .hasMessageContaining("uniform needs 2 numbers, got 3")
                .isInstanceOfSatisfying(TuneException.class, e -> assertThat(e.fix()).isEqualTo("e.g. uniform: [low, high]"));
    }

    @Test
    void otherMalformedArgumentsNameTheKeyWithItsPath() {
        rejects("lr: {uniform: 0.5}", "'lr'", "uniform needs a list");
        rejects("lr: {uniform: [a, 1]}", "'lr'", "is not a number");
        rejects("optimizer: {lr: {uniform: [2, 1]}}", "'optimizer.lr'", "low < high");
    }

    @Test
    void aKindMixedWithOtherKeysIsNamed() {
        rejects("bs: {choice: [1], extra: 2}", "parameter 'bs' mixes 'choice' with other keys");
    }

    @Test
    void aNestedBlockOfSeveralPlainKeysIsAGroupNotAnError() {
        SearchSpace s = SearchSpace.parse("optimizer: {name: adam, lr: {uniform: [0.001, 0.01]}}\nepochs: 3");
        Domain.Group g = (Domain.Group) s.params().get("optimizer");
        assertThat(g.children()).containsOnlyKeys("name", "lr");
        assertThat(g.children().get("name")).isEqualTo(new Domain.Constant("adam"));
        assertThat(g.children().get("lr")).isEqualTo(new Domain.Uniform(0.001, 0.01));
        assertThat(s.params().get("epochs")).isEqualTo(new Domain.Constant(3L));
    }

    @Test
    void constantsKeepTheirJsonTypes() {
        SearchSpace s = SearchSpace.parse("""
                epochs: 5
                dropout: 0.5
                optimizer: adam
                augment: true
                layers: [64, 32]
                """);
        assertThat(s.params().get("epochs")).isEqualTo(new Domain.Constant(5L));
        assertThat(s.params().get("dropout")).isEqualTo(new Domain.Constant(0.5));
        assertThat(s.params().get("optimizer")).isEqualTo(new Domain.Constant("adam"));
        assertThat(s.params().get("augment")).isEqualTo(new Domain.Constant(true));
        assertThat(s.params().get("layers")).isEqualTo(new Domain.Constant(List.of(64, 32)));
        Map<String, Object> c = s.sample(new Random(1));
        assertThat(c).containsEntry("epochs", 5L).containsEntry("dropout", 0.5).containsEntry("optimizer", "adam")
                .containsEntry("augment", true).containsEntry("layers", List.of(64, 32));
    }
}
