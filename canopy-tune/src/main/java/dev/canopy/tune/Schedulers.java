package dev.canopy.tune;

import java.util.Locale;

/** Builds a scheduler or searcher from the names and options users type (as in Ray Tune). */
public final class Schedulers {
    private Schedulers() { }

    public record Options(int maxT, int gracePeriod, double reductionFactor, int perturbationInterval, double quantile,
                          double resampleProbability, long seed) { }

    public static TrialScheduler create(String name, Objective objective, Options o, int samples, SearchSpace space) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "fifo" -> new FifoScheduler(o.maxT());
            case "asha" -> new AshaScheduler(objective, o.maxT(), o.gracePeriod(), o.reductionFactor());
            case "hyperband" -> new HyperBandScheduler(objective, o.maxT(), o.reductionFactor(), o.gracePeriod(), samples);
            case "median", "median_stopping" -> new MedianStoppingRule(objective, o.gracePeriod(), 3);
            case "pbt" -> new PbtScheduler(objective, o.perturbationInterval(), o.quantile(), space, o.resampleProbability(), o.seed());
            default -> throw new TuneException("unknown scheduler '" + name + "'", "use fifo, asha, hyperband, median or pbt");
        };
    }

    public static Searcher searcher(String name, SearchSpace space, long seed, Objective objective) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "random" -> new RandomSearcher(space, seed);
            case "grid" -> new GridSearcher(space, seed);
            case "tpe" -> new TpeSearcher(space, seed, objective.metric(), objective.maximize());
            case "bohb" -> new BohbSearcher(space, seed, objective.metric(), objective.maximize());
            default -> throw new TuneException("unknown searcher '" + name + "'", "use random, grid, tpe or bohb (with --scheduler hyperband)");
        };
    }
}
