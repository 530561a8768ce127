package dev.canopy.tune;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011), per parameter: finished trials are split
 * into the best {@link #GAMMA} share ("good") and the rest; candidates are drawn around good
 * values and the one maximising good-density / bad-density is proposed. Numeric parameters use
 * Gaussian kernels (in log space for log-uniform ones), categorical ones smoothed frequencies.
 * The first {@link #STARTUP} trials are random.
 */
public final class TpeSearcher implements Searcher {
    static final double GAMMA = 0.25;
    static final int STARTUP = 8;
    static final int CANDIDATES = 24;

    private final SearchSpace space;
    private final long seed;
    private final String metric;
    private final boolean maximize;

    public TpeSearcher(SearchSpace space, long seed, String metric, boolean maximize) {
        this.space = space;
        this.seed = seed;
        this.metric = metric;
        this.maximize = maximize;
    }

    @Override
    public Map<String, Object> suggest(int trialIndex, List<Trial> history) {
        Random rng = new Random(Seeds.of(seed, 7_919L, trialIndex));
        Comparator<Trial> byMetric = Comparator.comparingDouble((Trial t) -> t.lastMetric(metric));
        List<Trial> scored = history.stream().filter(t -> t.lastMetric(metric) != null && !t.lastMetric(metric).isNaN()) // diverged runs teach nothing
                .sorted(maximize ? byMetric.reversed() : byMetric).toList();
        if (scored.size() < STARTUP) return space.sample(rng);
        return propose(space, scored.stream().map(Trial::config).toList(), rng);
    }

    /**
     * TPE's proposal from configurations sorted best first: candidates are drawn around the best
     * {@link #GAMMA} share and the one with the highest good/bad density ratio wins.
     */
    static Map<String, Object> propose(SearchSpace space, List<Map<String, Object>> bestFirst, Random rng) {
        int nGood = goodCount(bestFirst.size());
        List<Map<String, Object>> good = bestFirst.subList(0, nGood);
        List<Map<String, Object>> bad = bestFirst.subList(nGood, bestFirst.size());
        Map<String, Object> best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < CANDIDATES; c++) {
            Map<String, Object> cand = new LinkedHashMap<>(space.sample(rng));
            for (Map.Entry<String, Domain> e : space.params().entrySet()) {
                Object v = draw(e.getValue(), good, e.getKey(), rng);
                if (v != null) cand.put(e.getKey(), v);
            }
            double score = logRatio(space, good, bad, cand);
            if (score > bestScore) {
                bestScore = score;
                best = cand;
            }
        }
        return best;
    }

    static int goodCount(int n) {
        return Math.max(1, (int) Math.ceil(GAMMA * n));
    }

    /** log(good density / bad density) of a configuration, summed over the parameters (TPE's acquisition). */
    static double logRatio(SearchSpace space, List<Map<String, Object>> good, List<Map<String, Object>> bad, Map<String, Object> cand) {
        double score = 0;
        for (Map.Entry<String, Domain> e : space.params().entrySet()) {
            String k = e.getKey();
            score += Math.log(density(e.getValue(), good, k, cand.get(k)) + 1e-12) - Math.log(density(e.getValue(), bad, k, cand.get(k)) + 1e-12);
        }
        return score;
    }

    /** A draw from the good-density for numeric/categorical leaf parameters, else null (keep the random sample). */
    private static Object draw(Domain d, List<Map<String, Object>> good, String k, Random rng) {
        List<Object> vals = good.stream().map(c -> c.get(k)).filter(java.util.Objects::nonNull).toList();
        if (vals.isEmpty()) return null;
        Object pick = vals.get(rng.nextInt(vals.size()));
        if (d instanceof Domain.Uniform u) {
            double bw = (u.high() - u.low()) / 5;
            return clamp(((Number) pick).doubleValue() + rng.nextGaussian() * bw, u.low(), u.high());
        }
        if (d instanceof Domain.LogUniform l) {
            double bw = (Math.log(l.high()) - Math.log(l.low())) / 5;
            return Math.exp(clamp(Math.log(((Number) pick).doubleValue()) + rng.nextGaussian() * bw, Math.log(l.low()), Math.log(l.high())));
        }
        if (d instanceof Domain.IntRange r) {
            double bw = Math.max(r.q(), (r.high() - r.low()) / 5.0);
            long top = r.inclusive() ? r.high() : r.high() - 1;
            double x = clamp(((Number) pick).doubleValue() + rng.nextGaussian() * bw, r.low(), top);
            return r.low() + r.q() * Math.round((x - r.low()) / r.q());
        }
        if ((d instanceof Domain.Choice || d instanceof Domain.Grid) && !(pick instanceof Map)) {
            return rng.nextDouble() < 0.8 ? pick : null;
        }
        return null;
    }

    private static double density(Domain d, List<Map<String, Object>> configs, String k, Object v) {
        List<Object> vals = configs.stream().map(c -> c.get(k)).filter(java.util.Objects::nonNull).toList();
        if (vals.isEmpty() || v == null) return 1;
        if (d instanceof Domain.Uniform || d instanceof Domain.LogUniform || d instanceof Domain.IntRange) {
            boolean log = d instanceof Domain.LogUniform;
            double x = log ? Math.log(((Number) v).doubleValue()) : ((Number) v).doubleValue();
            double lo = d instanceof Domain.Uniform u ? u.low() : d instanceof Domain.LogUniform l ? Math.log(l.low()) : ((Domain.IntRange) d).low();
            double hi = d instanceof Domain.Uniform u ? u.high() : d instanceof Domain.LogUniform l ? Math.log(l.high()) : ((Domain.IntRange) d).high();
            double bw = Math.max(1e-9, (hi - lo) / 5);
            double sum = 0;
            for (Object o : vals) {
                double m = log ? Math.log(((Number) o).doubleValue()) : ((Number) o).doubleValue();
                sum += Math.exp(-0.5 * Math.pow((x - m) / bw, 2)) / (bw * Math.sqrt(2 * Math.PI));
            }
            return sum / vals.size() + 1e-3 / Math.max(1e-9, hi - lo); // a uniform floor: prior weight
        }
        long same = vals.stream().filter(o -> o.equals(v)).count();
        return (same + 1.0) / (vals.size() + 2.0);
    }

    private static double clamp(double x, double lo, double hi) {
        return Math.max(lo, Math.min(hi, x));
    }
}
