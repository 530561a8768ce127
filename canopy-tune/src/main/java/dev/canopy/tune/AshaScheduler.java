package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Asynchronous successive halving (Li et al. 2018): rungs at grace_period x reduction_factor^k
 * iterations below max_t. When a trial reaches a rung it is compared with every result recorded at
 * that rung so far; unless it is in the top 1/reduction_factor it stops. No trial ever waits for
 * another, so slots never idle.
 */
public final class AshaScheduler implements TrialScheduler {
    private final Objective objective;
    private final int maxT;
    private final int gracePeriod;
    private final double reductionFactor;
    private final List<Integer> milestones = new ArrayList<>();       // descending
    private final Map<Integer, Map<String, Double>> recorded = new HashMap<>();

    public AshaScheduler(Objective objective, int maxT, int gracePeriod, double reductionFactor) {
        if (maxT < 1) throw new TuneException("max_t must be >= 1, got " + maxT, "pass --max-t");
        if (gracePeriod < 1 || gracePeriod > maxT) throw new TuneException("grace_period must be in 1..max_t (" + maxT + "), got " + gracePeriod, "pass --grace-period");
        if (!(reductionFactor > 1)) throw new TuneException("reduction_factor must be > 1, got " + reductionFactor, "pass --reduction-factor, e.g. 3");
        this.objective = objective;
        this.maxT = maxT;
        this.gracePeriod = gracePeriod;
        this.reductionFactor = reductionFactor;
        for (double m = gracePeriod; m < maxT; m *= reductionFactor) {
            int rung = (int) Math.round(m);
            if (milestones.isEmpty() || milestones.get(0) != rung) milestones.add(0, rung); // a factor below 2 can round two rungs together
        }
        for (int m : milestones) recorded.put(m, new HashMap<>());
    }

    public List<Integer> rungs() {
        List<Integer> asc = new ArrayList<>(milestones);
        java.util.Collections.reverse(asc);
        return asc;
    }

    @Override
    public Decision onTrialResult(Trial trial, TrialResult result) {
        double score = objective.score(result);
        int t = result.iteration();
        for (int milestone : milestones) {
            Map<String, Double> rung = recorded.get(milestone);
            if (t < milestone) continue;
            if (rung.containsKey(trial.id())) break; // already judged at the highest rung it reached
            Double cutoff = cutoff(rung.values());
            rung.put(trial.id(), score);
            if (cutoff != null && score < cutoff) return Decision.STOP;
            break;
        }
        return Decision.CONTINUE;
    }

    /**
     * The score a trial must reach to be in the top 1/reduction_factor of those recorded; diverged
     * (non-finite) results are left out, as numpy's nanpercentile does.
     */
    private Double cutoff(java.util.Collection<Double> values) {
        List<Double> sorted = new ArrayList<>(values.stream().filter(Double::isFinite).toList());
        if (sorted.isEmpty()) return null;
        sorted.sort(null);
        double q = 1 - 1 / reductionFactor; // percentile with linear interpolation, as numpy does
        double pos = q * (sorted.size() - 1);
        int lo = (int) Math.floor(pos);
        int hi = (int) Math.ceil(pos);
        return sorted.get(lo) + (sorted.get(hi) - sorted.get(lo)) * (pos - lo);
    }

    @Override
    public String describePlan(int samples) {
        StringBuilder s = new StringBuilder(String.format("ASHA on %s (%s): max_t=%d, grace_period=%d, reduction_factor=%s%n",
                objective.metric(), objective.maximize() ? "max" : "min", maxT, gracePeriod, reductionFactor));
        s.append(String.format("%-8s %12s %18s%n", "rung", "iteration", "trials reaching"));
        double survivors = samples;
        long expected = 0;
        int prev = 0;
        List<Integer> asc = rungs();
        for (int i = 0; i < asc.size(); i++) {
            s.append(String.format("%-8d %12d %18.0f%n", i, asc.get(i), Math.ceil(survivors)));
            expected += Math.round(survivors * (asc.get(i) - prev));
            prev = asc.get(i);
            survivors /= reductionFactor;
        }
        s.append(String.format("%-8s %12d %18.0f%n", "final", maxT, Math.ceil(survivors)));
        expected += Math.round(survivors * (maxT - prev));
        s.append(String.format("expected trial-iterations ~%d of %d without early stopping (%.0f%% saved)%n", expected, (long) samples * maxT,
                100.0 * (1 - expected / (double) ((long) samples * maxT))));
        return s.toString();
    }
}
