package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Median stopping (Golovin et al. 2017, Vizier): after the grace period, a trial stops when its best
 * result so far is worse than the median of the other trials' running averages at the same iteration.
 */
public final class MedianStoppingRule implements TrialScheduler {
    private final Objective objective;
    private final int gracePeriod;
    private final int minSamples;
    private final Map<String, List<Double>> scores = new HashMap<>();

    public MedianStoppingRule(Objective objective, int gracePeriod, int minSamples) {
        if (gracePeriod < 1) throw new TuneException("grace_period must be >= 1, got " + gracePeriod, "pass --grace-period");
        if (minSamples < 1) throw new TuneException("min_samples_required must be >= 1", "use 3");
        this.objective = objective;
        this.gracePeriod = gracePeriod;
        this.minSamples = minSamples;
    }

    @Override
    public Decision onTrialResult(Trial trial, TrialResult result) {
        List<Double> mine = scores.computeIfAbsent(trial.id(), k -> new ArrayList<>());
        while (mine.size() >= result.iteration()) mine.remove(mine.size() - 1); // exploited/re-run iterations replace older ones
        mine.add(objective.score(result));
        int t = result.iteration();
        if (t < gracePeriod) return Decision.CONTINUE;
        List<Double> others = new ArrayList<>();
        for (Map.Entry<String, List<Double>> e : scores.entrySet()) {
            if (e.getKey().equals(trial.id()) || e.getValue().size() < t) continue;
            double avg = e.getValue().subList(0, t).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            if (Double.isFinite(avg)) others.add(avg); // a diverged trial sets no bar
        }
        if (others.size() < minSamples) return Decision.CONTINUE;
        others.sort(null);
        int n = others.size();
        double median = n % 2 == 1 ? others.get(n / 2) : (others.get(n / 2 - 1) + others.get(n / 2)) / 2;
        double best = mine.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        return best < median ? Decision.STOP : Decision.CONTINUE;
    }

    @Override
    public String describePlan(int samples) {
        return String.format("Median stopping on %s (%s): after %d iterations a trial stops when its best result is below the median of the "
                + "others' running averages at the same iteration (needs %d other trials)", objective.metric(), objective.maximize() ? "max" : "min",
                gracePeriod, minSamples);
    }
}
