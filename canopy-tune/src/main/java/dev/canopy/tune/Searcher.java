package dev.canopy.tune;

import java.util.List;
import java.util.Map;

/** Proposes configurations. Called from the runner's thread only. */
public interface Searcher {
    /** The next configuration, or null when the searcher has nothing more to propose. */
    Map<String, Object> suggest(int trialIndex, List<Trial> history);

    /**
     * Whether {@link #suggest} should see every trial, running and paused ones with their partial
     * results included (a model fitted per budget, as BOHB's); by default it sees finished trials only.
     */
    default boolean seesRunningTrials() {
        return false;
    }

    /** How many configurations this searcher can propose at most (grid) or -1 for unbounded. */
    default int capacity() {
        return -1;
    }
}
