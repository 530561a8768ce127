package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Population-based training (Jaderberg et al. 2017). Every {@code perturbation_interval} iterations
 * a trial in the bottom quantile copies the weights of a random trial of the top quantile (exploit)
 * and continues with a perturbed copy of its configuration (explore): each mutable parameter is
 * resampled with probability {@code resample_probability}, else multiplied by 0.8 or 1.2 (numbers)
 * or moved to a neighbouring value (choices). Deterministic for a seed.
 */
public final class PbtScheduler implements TrialScheduler {
    private final Objective objective;
    private final int interval;
    private final double quantile;
    private final SearchSpace mutations;
    private final double resampleProbability;
    private final long seed;
    private final Map<String, Double> last = new LinkedHashMap<>();
    private final Map<String, Trial> trials = new HashMap<>();
    private final Map<String, Integer> lastPerturbation = new HashMap<>();
    private TrialControl control;

    public PbtScheduler(Objective objective, int perturbationInterval, double quantile, SearchSpace mutations, double resampleProbability, long seed) {
        if (perturbationInterval < 1) throw new TuneException("perturbation_interval must be >= 1", "pass --perturbation-interval");
        if (!(quantile > 0 && quantile <= 0.5)) throw new TuneException("quantile_fraction must be in (0, 0.5], got " + quantile, "use 0.25");
        this.objective = objective;
        this.interval = perturbationInterval;
        this.quantile = quantile;
        this.mutations = mutations;
        this.resampleProbability = resampleProbability;
        this.seed = seed;
    }

    @Override
    public void attach(TrialControl control) {
        this.control = control;
    }

    @Override
    public void onTrialError(Trial trial) {
        last.remove(trial.id()); // a failed trial's checkpoint is no source to copy
    }

    @Override
    public void onTrialAdd(Trial trial) {
        trials.put(trial.id(), trial);
    }

    @Override
    public Decision onTrialResult(Trial trial, TrialResult result) {
        last.put(trial.id(), objective.score(result));
        int t = result.iteration();
        if (t - lastPerturbation.getOrDefault(trial.id(), 0) < interval) return Decision.CONTINUE;
        lastPerturbation.put(trial.id(), t);
        List<String> ranked = new ArrayList<>(last.keySet());
        ranked.sort(Comparator.comparingDouble((String id) -> last.get(id)).reversed());
        int n = ranked.size();
        int k = (int) Math.ceil(n * quantile);
        if (n < 2 || k == 0) return Decision.CONTINUE;
        int pos = ranked.indexOf(trial.id());
        if (pos < n - k) return Decision.CONTINUE; // not in the bottom quantile
        Random rng = new Random(Seeds.of(seed, trial.getIndex(), t));
        String sourceId = ranked.get(rng.nextInt(k));
        if (sourceId.equals(trial.id())) return Decision.CONTINUE;
        Trial source = trials.get(sourceId);
        Map<String, Object> config = explore(source.config(), rng);
        // the target ranks with the source's score only if it really took the source's weights
        if (control != null && control.exploit(trial, source, config)) last.put(trial.id(), last.get(sourceId));
        return Decision.CONTINUE;
    }

    Map<String, Object> explore(Map<String, Object> base, Random rng) {
        Map<String, Object> out = new LinkedHashMap<>(base);
        for (Map.Entry<String, Domain> e : mutations.params().entrySet()) {
            String k = e.getKey();
            Domain d = e.getValue();
            Object cur = out.get(k);
            if (cur == null || rng.nextDouble() < resampleProbability) {
                out.put(k, d.sample(rng));
                continue;
            }
            double f = rng.nextBoolean() ? 0.8 : 1.2;
            if (d instanceof Domain.Uniform u) out.put(k, clamp(((Number) cur).doubleValue() * f, u.low(), u.high()));
            else if (d instanceof Domain.LogUniform l) out.put(k, clamp(((Number) cur).doubleValue() * f, l.low(), l.high()));
            else if (d instanceof Domain.IntRange r) {
                long top = r.inclusive() ? r.high() : r.high() - 1;
                double x = clamp(((Number) cur).doubleValue() * f, r.low(), top);
                out.put(k, r.low() + r.q() * Math.round((x - r.low()) / r.q()));
            } else if (d instanceof Domain.Choice c) {
                int i = 0;
                for (int v = 0; v < c.values().size(); v++) if (SearchSpace.same(c.values().get(v), cur)) i = v; // 16 read back from JSON is an Integer
                int j = Math.max(0, Math.min(c.values().size() - 1, i + (rng.nextBoolean() ? 1 : -1)));
                out.put(k, c.values().get(j));
            }
        }
        return out;
    }

    private static double clamp(double x, double lo, double hi) {
        return Math.max(lo, Math.min(hi, x));
    }

    @Override
    public String describePlan(int samples) {
        return String.format("PBT on %s (%s): population %d, every %d iterations the bottom %.0f%% copy a top-%.0f%% trial's checkpoint "
                + "and perturb %s (resample probability %.2f)", objective.metric(), objective.maximize() ? "max" : "min", samples, interval,
                100 * quantile, 100 * quantile, mutations.params().keySet(), resampleProbability);
    }
}
