package dev.canopy.model;

/**
 * A loaded model that classifies tiles. Input: {@code n} images as CHW float RGB, already resized
 * to {@link ModelCard#inputSize()} and normalised with the card's mean/std. Output: {@code n x classes}
 * probabilities, row-major.
 *
 * <p>Owns native memory: close it. Implementations are safe for concurrent {@link #predict} calls.
 */
public interface TileClassifier extends AutoCloseable {
    ModelCard card();

    float[] predict(float[] images, int n);

    @Override
    void close();
}
