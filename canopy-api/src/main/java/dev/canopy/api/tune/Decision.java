package dev.canopy.api.tune;

/** What a scheduler tells the runner to do with a trial after a result. */
public enum Decision {
    /** Keep training. */
    CONTINUE,
    /** Stop for now and free the slot; the trial may be resumed from its checkpoint later. */
    PAUSE,
    /** Terminate the trial for good. */
    STOP
}
