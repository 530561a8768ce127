package dev.canopy.api.train;

import java.net.URI;
import java.util.Map;

/**
 * Something that learns one step at a time: training, tuning (a trial is a Trainable driven by a
 * scheduler) and, later, distributed training all drive this same contract.
 *
 * <p>Lifecycle: {@link #setup} once, then any number of {@link #step} calls, each one unit of
 * resource (an epoch). {@link #save} writes everything needed to continue; {@link #restore} on a
 * fresh instance (after {@link #setup} with the same config) continues exactly where the saved one
 * stopped, so that a trial can be paused, moved or resumed after a crash.
 *
 * <p>Threading: one thread drives an instance; instances are independent.
 */
public interface Trainable extends AutoCloseable {
    /**
     * A checkpoint is a folder of files whose last-written file is this marker: a folder without it
     * is incomplete. Whoever copies a checkpoint (PBT's exploit) copies the marker last, and needs to
     * know nothing else about the files.
     */
    String CHECKPOINT_MARKER = "state.json";

    /** Builds the model and data from a config. Unknown or invalid keys are errors, never ignored. */
    void setup(Map<String, Object> config);

    /** Runs one unit of training and returns its metrics (e.g. {@code val_accuracy}, {@code train_loss}). */
    StepResult step();

    /** Iterations completed so far (0 after setup, N after N steps or after restoring a checkpoint of N). */
    int iteration();

    /** Writes a checkpoint at {@code location} (a folder URI in an object store). */
    void save(URI location);

    /** Loads a checkpoint written by {@link #save}; fails with a clear error if it is missing or corrupt. */
    void restore(URI location);

    /**
     * Makes this instance one rank of a synchronous data-parallel run of {@code ring.size()} ranks, each taking its
     * slice of every batch and summing gradients through {@code ring} every step. Called after {@link #setup} and
     * before {@link #restore}; every rank then steps in lockstep and only rank 0 needs to {@link #save}. The ring stays
     * the caller's to close. The default supports a single rank only.
     */
    default void dataParallel(AllReduce ring) {
        if (ring.size() > 1) {
            throw new TrainingException("train.no_data_parallel", getClass().getSimpleName() + " cannot train on " + ring.size() + " ranks",
                    "run it with one worker per trial");
        }
    }

    @Override
    void close();

    /** Metrics of one step; {@code iteration} counts from 1. */
    record StepResult(int iteration, Map<String, Double> metrics) {
        public double metric(String name) {
            Double v = metrics.get(name);
            if (v == null) throw new IllegalArgumentException("no metric '" + name + "'; reported: " + metrics.keySet());
            return v;
        }
    }
}
