package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.List;

/**
 * Decides the fate of trials from their results (Ray Tune's narrow event interface). Pure logic:
 * no threads, no I/O, no clock; the runner calls it from one thread, and replaying the same events
 * rebuilds the same state (which is how an experiment resumes after a crash).
 */
public interface TrialScheduler {
    /** A trial joined the experiment. */
    default void onTrialAdd(Trial trial) { }

    /** A trial reported a result; what should it do next? */
    Decision onTrialResult(Trial trial, TrialResult result);

    /** A trial reached max_t. */
    default void onTrialComplete(Trial trial) { }

    /** A trial failed for good. */
    default void onTrialError(Trial trial) { }

    /** Of the paused trials, the next to resume (synchronous schedulers release a rung at once), or null. */
    default Trial choosePausedToResume(List<Trial> paused) {
        return null;
    }

    /** Lets schedulers that move weights between trials (PBT) ask the runner to do it. */
    default void attach(TrialControl control) { }

    /** What the scheduler will do, for {@code --dry-run}. */
    String describePlan(int samples);

    /** Things a scheduler may ask of the runner. */
    interface TrialControl {
        /**
         * Replace {@code target}'s weights with {@code source}'s latest checkpoint and its config with
         * {@code newConfig}; false if it could not (the source has no checkpoint yet).
         */
        boolean exploit(Trial target, Trial source, java.util.Map<String, Object> newConfig);

        /** Stop a trial that is not the one reporting (e.g. a paused trial that lost its rung). */
        void stop(Trial trial);
    }
}
