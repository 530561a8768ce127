package dev.canopy.model;

/**
 * Turns a caller's item into the model's input and the model's output back into an answer, as
 * DJL's {@code Translator} does; the {@link PredictorPool} does the batching in between.
 *
 * <p>Threads: {@link #toInput} runs on the thread that submits (a decode thread, an HTTP worker),
 * {@link #fromOutput} on a replica thread right after its batch: keep it cheap and stateless.
 *
 * @param <I> what callers submit
 * @param <O> what their futures complete with
 */
public interface Translator<I, O> {
    /** One item as a normalised CHW float image of the model card's input size. */
    float[] toInput(I item);

    /** One item's answer from its row of the model's output (class probabilities for a classifier). */
    O fromOutput(float[] row);
}
