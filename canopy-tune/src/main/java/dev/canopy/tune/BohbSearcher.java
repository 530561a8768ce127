package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * BOHB's model-based search (Falkner et al. 2018): new trials for HyperBand (or ASHA) come from a
 * TPE fitted on the results of the largest budget that has enough of them, instead of at random.
 * Unlike {@link TpeSearcher}, which learns from finished trials only, it learns from every rung,
 * so the model is useful long before any trial reaches max_t.
 *
 * <p>Worked example: max_t 27, reduction factor 3, so trials report at iterations 1, 2, 3, ... and
 * HyperBand judges them at 1, 3, 9 and 27. After 20 trials have reported iteration 1, 7 of them
 * iteration 3 and none iteration 9, the model is fitted at budget 1 (20 results; budget 3 has fewer
 * than {@link #MIN_POINTS}): the best quarter (5 configurations) form the good density, the other 15
 * the bad one, and the candidate with the highest good/bad ratio is proposed. When 8 trials have
 * reported iteration 3, the model moves up to budget 3. Until some budget has {@link #MIN_POINTS}
 * results, configurations are drawn at random, and afterwards a third of them still are
 * ({@link #RANDOM_FRACTION}), as in BOHB.
 *
 * <p>{@link #overPool} restricts proposals to a fixed list of configurations (each proposed once),
 * for benchmarks that replay recorded learning curves.
 */
public final class BohbSearcher implements Searcher {
    static final int MIN_POINTS = TpeSearcher.STARTUP;
    /** Share of proposals drawn at random even once the model exists (as in BOHB), so a wrong model cannot trap the search. */
    static final double RANDOM_FRACTION = 1.0 / 3;

    private final SearchSpace space;
    private final long seed;
    private final String metric;
    private final boolean maximize;
    private final List<Map<String, Object>> pool;

    public BohbSearcher(SearchSpace space, long seed, String metric, boolean maximize) {
        this(space, seed, metric, maximize, null);
    }

    private BohbSearcher(SearchSpace space, long seed, String metric, boolean maximize, List<Map<String, Object>> pool) {
        this.space = space;
        this.seed = seed;
        this.metric = metric;
        this.maximize = maximize;
        this.pool = pool == null ? null : List.copyOf(pool);
    }

    /** Proposes only configurations of {@code pool}, each at most once, ranked by the same model. */
    public static BohbSearcher overPool(SearchSpace space, long seed, String metric, boolean maximize, List<Map<String, Object>> pool) {
        return new BohbSearcher(space, seed, metric, maximize, pool);
    }

    @Override
    public boolean seesRunningTrials() {
        return true;
    }

    @Override
    public int capacity() {
        return pool == null ? -1 : pool.size();
    }

    @Override
    public Map<String, Object> suggest(int trialIndex, List<Trial> history) {
        Random rng = new Random(Seeds.of(seed, 104_729L, trialIndex));
        List<Map<String, Object>> bestFirst = rng.nextDouble() < RANDOM_FRACTION ? null : modelData(history);
        if (pool == null) return bestFirst == null ? space.sample(rng) : TpeSearcher.propose(space, bestFirst, rng);
        Set<Map<String, Object>> used = new HashSet<>();
        for (Trial t : history) used.add(t.config());
        List<Map<String, Object>> unused = new ArrayList<>();
        for (Map<String, Object> c : pool) if (!used.contains(c)) unused.add(c);
        if (unused.isEmpty()) return null;
        if (bestFirst == null) return unused.get(rng.nextInt(unused.size()));
        int nGood = TpeSearcher.goodCount(bestFirst.size());
        List<Map<String, Object>> good = bestFirst.subList(0, nGood);
        List<Map<String, Object>> bad = bestFirst.subList(nGood, bestFirst.size());
        Map<String, Object> best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (Map<String, Object> c : unused) {
            double score = TpeSearcher.logRatio(space, good, bad, c);
            if (score > bestScore) {
                bestScore = score;
                best = c;
            }
        }
        return best;
    }

    /**
     * The configurations that reported at the largest budget with at least {@link #MIN_POINTS} results,
     * best first by their result at that budget; null when no budget has enough.
     */
    List<Map<String, Object>> modelData(List<Trial> history) {
        TreeMap<Integer, List<Object[]>> byBudget = new TreeMap<>();
        for (Trial t : history) {
            for (TrialResult r : t.getResults()) {
                Double v = r.metrics().get(metric);
                if (v == null || v.isNaN()) continue; // diverged runs teach nothing
                byBudget.computeIfAbsent(r.iteration(), k -> new ArrayList<>()).add(new Object[] {t.config(), v});
            }
        }
        for (Map.Entry<Integer, List<Object[]>> e : byBudget.descendingMap().entrySet()) {
            if (e.getValue().size() < MIN_POINTS) continue;
            Comparator<Object[]> byScore = Comparator.comparingDouble(o -> (Double) o[1]);
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> sorted = e.getValue().stream().sorted(maximize ? byScore.reversed() : byScore)
                    .map(o -> (Map<String, Object>) o[0]).toList();
            return sorted;
        }
        return null;
    }
}
