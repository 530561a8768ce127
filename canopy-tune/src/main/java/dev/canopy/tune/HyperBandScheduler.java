package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Synchronous HyperBand (Li et al. 2017). Trials fill brackets s = s_max..0; bracket s starts n_s
 * trials at r_s = max_t / eta^s iterations. At each rung every live trial of the bracket pauses
 * until all have arrived; then the best 1/eta continue to eta times the resource and the rest stop.
 */
public final class HyperBandScheduler implements TrialScheduler {
    private final Objective objective;
    private final int maxT;
    private final double eta;
    private final int samples;
    private final List<Bracket> brackets = new ArrayList<>();
    private final Map<String, Bracket> bracketOf = new HashMap<>();
    private final Set<String> promoted = new HashSet<>();
    private final int sMax;
    private int added;
    private TrialControl control;

    private final class Bracket {
        final int s;
        final int size;
        final List<String> members = new ArrayList<>();
        final Set<String> live = new HashSet<>();
        final Map<String, Double> atRung = new LinkedHashMap<>();
        final Map<String, Trial> trials = new HashMap<>();
        int rung;

        Bracket(int s, int size) {
            this.s = s;
            this.size = size;
        }

        int milestone() {
            return (int) Math.min(maxT, Math.round(maxT * Math.pow(eta, rung - s)));
        }

        boolean closed() {
            return members.size() >= size || added >= samples;
        }
    }

    public HyperBandScheduler(Objective objective, int maxT, double reductionFactor, int gracePeriod, int samples) {
        if (maxT < 1) throw new TuneException("max_t must be >= 1, got " + maxT, "pass --max-t");
        if (!(reductionFactor > 1)) throw new TuneException("reduction_factor must be > 1, got " + reductionFactor, "pass --reduction-factor");
        if (gracePeriod < 1 || gracePeriod > maxT) throw new TuneException("grace_period must be in 1..max_t, got " + gracePeriod, "pass --grace-period");
        this.objective = objective;
        this.maxT = maxT;
        this.eta = reductionFactor;
        this.samples = samples;
        this.sMax = (int) Math.floor(Math.log((double) maxT / gracePeriod) / Math.log(eta) + 1e-9);
    }

    private int bracketSize(int s) {
        return (int) Math.ceil((sMax + 1.0) / (s + 1) * Math.pow(eta, s));
    }

    @Override
    public void attach(TrialControl control) {
        this.control = control;
    }

    @Override
    public void onTrialAdd(Trial trial) {
        Bracket b = brackets.isEmpty() ? null : brackets.get(brackets.size() - 1);
        if (b == null || b.members.size() >= b.size) {
            int s = sMax - (brackets.size() % (sMax + 1));
            b = new Bracket(s, bracketSize(s));
            brackets.add(b);
        }
        b.members.add(trial.id());
        b.live.add(trial.id());
        b.trials.put(trial.id(), trial);
        bracketOf.put(trial.id(), b);
        added++;
    }

    @Override
    public Decision onTrialResult(Trial trial, TrialResult result) {
        Bracket b = bracketOf.get(trial.id());
        if (b == null) return Decision.CONTINUE;
        int milestone = b.milestone();
        if (result.iteration() < milestone || milestone >= maxT) return Decision.CONTINUE;
        b.atRung.put(trial.id(), objective.score(result));
        promoted.remove(trial.id());
        if (!b.closed() || !b.atRung.keySet().containsAll(b.live)) return Decision.PAUSE;
        return promote(b, trial);
    }

    /** Everyone live reached the rung: keep the best 1/eta, stop the others, move the rung up. */
    private Decision promote(Bracket b, Trial current) {
        List<Map.Entry<String, Double>> ranked = new ArrayList<>(b.atRung.entrySet());
        ranked.sort(Map.Entry.<String, Double>comparingByValue().reversed());
        int keep = Math.max(1, (int) Math.floor(ranked.size() / eta));
        Decision mine = Decision.STOP;
        for (int i = 0; i < ranked.size(); i++) {
            String id = ranked.get(i).getKey();
            boolean kept = i < keep;
            if (id.equals(current.id())) {
                mine = kept ? Decision.CONTINUE : Decision.STOP;
            } else if (kept) {
                promoted.add(id);
            } else if (control != null) {
                control.stop(b.trials.get(id));
            }
            if (!kept) b.live.remove(id);
        }
        b.atRung.clear();
        b.rung++;
        return mine;
    }

    @Override
    public void onTrialComplete(Trial trial) {
        leave(trial);
    }

    @Override
    public void onTrialError(Trial trial) {
        leave(trial);
    }

    private void leave(Trial trial) {
        Bracket b = bracketOf.get(trial.id());
        if (b == null) return;
        b.live.remove(trial.id());
        b.atRung.remove(trial.id());
        if (b.closed() && !b.live.isEmpty() && !b.atRung.isEmpty() && b.atRung.keySet().containsAll(b.live)) {
            // the last one that was awaited is gone: release the rung
            String any = b.atRung.keySet().iterator().next();
            Decision d = promote(b, b.trials.get(any));
            if (d == Decision.CONTINUE) promoted.add(any);
            else if (control != null) control.stop(b.trials.get(any));
        }
    }

    @Override
    public Trial choosePausedToResume(List<Trial> paused) {
        for (Trial t : paused) if (promoted.contains(t.id())) {
            promoted.remove(t.id());
            return t;
        }
        return null;
    }

    @Override
    public String describePlan(int n) {
        StringBuilder s = new StringBuilder(String.format("HyperBand (synchronous) on %s (%s): max_t=%d, reduction_factor=%s, %d brackets%n",
                objective.metric(), objective.maximize() ? "max" : "min", maxT, eta, sMax + 1));
        s.append(String.format("%-8s %-6s %10s %14s%n", "bracket", "rung", "trials", "iterations"));
        int left = n;
        long total = 0;
        for (int k = 0; left > 0; k++) {
            int sb = sMax - (k % (sMax + 1));
            int size = Math.min(left, bracketSize(sb));
            left -= size;
            double trials = size;
            int prev = 0;
            for (int i = 0; i <= sb; i++) {
                int r = (int) Math.min(maxT, Math.round(maxT * Math.pow(eta, i - sb)));
                s.append(String.format("%-8d %-6d %10d %14d%n", k, i, (int) trials, r));
                total += (long) trials * (r - prev);
                prev = r;
                trials = Math.max(1, Math.floor(trials / eta));
            }
        }
        s.append(String.format("expected trial-iterations ~%d of %d without early stopping (%.0f%% saved)%n", total, (long) n * maxT,
                100.0 * (1 - total / (double) ((long) n * maxT))));
        return s.toString();
    }
}
