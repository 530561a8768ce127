package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;

/** Runs every trial to max_t: the baseline that early stopping is measured against. */
public final class FifoScheduler implements TrialScheduler {
    private final int maxT;

    public FifoScheduler(int maxT) {
        this.maxT = maxT;
    }

    @Override
    public Decision onTrialResult(Trial trial, TrialResult result) {
        return Decision.CONTINUE;
    }

    @Override
    public String describePlan(int samples) {
        return String.format("FIFO: %d trials, each trained to max_t=%d: %d trial-iterations", samples, maxT, (long) samples * maxT);
    }
}
