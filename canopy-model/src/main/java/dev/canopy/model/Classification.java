package dev.canopy.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A classifier's answer for one image: the probability of every class, in the card's class order.
 * The one place where argmax and class labels are decided, for serving and batch inference alike.
 */
public record Classification(List<String> classes, float[] probabilities) {
    public Classification {
        if (classes.size() != probabilities.length) {
            throw new IllegalArgumentException(probabilities.length + " probabilities for " + classes.size() + " classes");
        }
    }

    /** Index of the most probable class; ties go to the lower index. */
    public int top() {
        int best = 0;
        for (int i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
        return best;
    }

    public String topClass() {
        return classes.get(top());
    }

    public float topProbability() {
        return probabilities[top()];
    }

    /** Class name to probability, in class order. */
    public Map<String, Float> byClass() {
        Map<String, Float> m = new LinkedHashMap<>();
        for (int i = 0; i < probabilities.length; i++) m.put(classes.get(i), probabilities[i]);
        return m;
    }

    /** The translator of an image classifier: input is already a normalised CHW image; output its probabilities. */
    public static Translator<float[], Classification> translator(ModelCard card) {
        List<String> classes = List.copyOf(card.classes());
        int plane = 3 * card.inputSize() * card.inputSize();
        return new Translator<>() {
            @Override
            public float[] toInput(float[] image) {
                if (image.length != plane) {
                    throw new IllegalArgumentException("image of " + image.length + " values; the model takes 3x" + card.inputSize() + "x" + card.inputSize());
                }
                return image;
            }

            @Override
            public Classification fromOutput(float[] row) {
                return new Classification(classes, row);
            }
        };
    }
}
