package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClassificationTest {
    @Test
    void topIsTheMostProbableClassAndTiesGoToTheFirst() {
        Classification c = new Classification(List.of("grass", "weed", "water"), new float[] {0.2f, 0.5f, 0.3f});
        assertThat(c.top()).isEqualTo(1);
        assertThat(c.topClass()).isEqualTo("weed");
        assertThat(c.topProbability()).isEqualTo(0.5f);
        assertThat(c.byClass()).containsExactly(Map.entry("grass", 0.2f), Map.entry("weed", 0.5f), Map.entry("water", 0.3f));
        assertThat(new Classification(List.of("a", "b", "c"), new float[] {0.4f, 0.4f, 0.2f}).top()).isZero();
        assertThat(new Classification(List.of("a", "b", "c"), new float[] {0.1f, 0.4f, 0.4f}).top()).isEqualTo(1);
        assertThat(new Classification(List.of("a", "b"), new float[] {0.1f, 0.9f}).top()).isEqualTo(1);
        assertThatThrownBy(() -> new Classification(List.of("a"), new float[] {0.5f, 0.5f})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 probabilities for 1 classes");
    }

    @Test
    void theTranslatorChecksTheImageSizeAndLabelsTheOutput() {
        ModelCard card = new ModelCard("m", ModelCard.FORMAT_DJL, "small-cnn", 16, new float[] {0, 0, 0}, new float[] {1, 1, 1}, List.of("a", "b"),
                Map.of(), null);
        Translator<float[], Classification> t = Classification.translator(card);
        float[] image = new float[3 * 16 * 16];
        assertThat(t.toInput(image)).isSameAs(image);
        assertThatThrownBy(() -> t.toInput(new float[11])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3x16x16");
        assertThatThrownBy(() -> t.toInput(new float[13])).isInstanceOf(IllegalArgumentException.class);
        assertThat(t.fromOutput(new float[] {0.3f, 0.7f}).topClass()).isEqualTo("b");
    }
}
