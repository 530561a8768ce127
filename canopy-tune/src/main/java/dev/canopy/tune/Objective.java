package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;

/** The metric a scheduler optimises and its direction; an unknown metric is an error, never a default. */
public record Objective(String metric, boolean maximize) {
    public Objective {
        if (metric == null || metric.isBlank()) throw new TuneException("no metric given", "pass --metric, e.g. val_accuracy");
    }

    public static Objective of(String metric, String mode) {
        return switch (mode) {
            case "max" -> new Objective(metric, true);
            case "min" -> new Objective(metric, false);
            default -> throw new TuneException("mode must be max or min, got '" + mode + "'", "pass --mode max or --mode min");
        };
    }

    /**
     * The value, oriented so that larger is better. A NaN metric (a diverged run) scores as the worst
     * possible value, so schedulers stop it and it never sets a bar for the others.
     */
    public double score(TrialResult r) {
        Double v = r.metrics().get(metric);
        if (v == null) {
            throw new TuneException("tune.unknown_metric", "trial " + r.trialId() + " did not report metric '" + metric + "'; it reported " + r.metrics().keySet(),
                    "pass --metric with one of those names");
        }
        if (Double.isNaN(v)) return Double.NEGATIVE_INFINITY;
        return maximize ? v : -v;
    }
}
