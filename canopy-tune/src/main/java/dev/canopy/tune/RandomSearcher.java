package dev.canopy.tune;

import java.util.List;
import java.util.Map;
import java.util.Random;

/** Independent random samples; trial i always gets the same configuration for a seed (resumable). */
public final class RandomSearcher implements Searcher {
    private final SearchSpace space;
    private final long seed;

    public RandomSearcher(SearchSpace space, long seed) {
        this.space = space;
        this.seed = seed;
    }

    @Override
    public Map<String, Object> suggest(int trialIndex, List<Trial> history) {
        return space.sample(new Random(Seeds.of(seed, trialIndex)));
    }
}
