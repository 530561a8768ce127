package dev.canopy.tune;

import java.util.List;
import java.util.Map;
import java.util.Random;

/** Every combination of the {@code grid_search}/{@code choice} values, in a fixed order. */
public final class GridSearcher implements Searcher {
    private final List<Map<String, Object>> points;

    public GridSearcher(SearchSpace space, long seed) {
        this.points = space.grid(new Random(seed));
    }

    @Override
    public Map<String, Object> suggest(int trialIndex, List<Trial> history) {
        return trialIndex < points.size() ? points.get(trialIndex) : null;
    }

    @Override
    public int capacity() {
        return points.size();
    }
}
