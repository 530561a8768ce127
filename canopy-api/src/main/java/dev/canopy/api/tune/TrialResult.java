package dev.canopy.api.tune;

import java.util.Map;

/** One reported result of a trial: after {@code iteration} units of training, these metrics. */
public record TrialResult(String trialId, int iteration, Map<String, Double> metrics) implements java.io.Serializable {
    public double metric(String name) {
        Double v = metrics.get(name);
        if (v == null) {
            throw new IllegalArgumentException("trial " + trialId + " did not report metric '" + name + "'; it reported " + metrics.keySet());
        }
        return v;
    }
}
