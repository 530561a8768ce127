package dev.canopy.tune;

import java.util.List;
import java.util.Map;

/** Proposes configurations. Called from the runner's thread only. */
public interface Searcher {
    /** The next configuration, or null when the searcher has nothing more to propose. */
    Map<String, Object> suggest(int trialIndex, List<Trial> history);

    /** How many configurations this searcher can propose at most (grid) or -1 for unbounded. */
    default int capacity() {
        return -1;
    }
}
