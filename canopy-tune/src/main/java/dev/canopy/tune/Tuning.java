package dev.canopy.tune;

import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * A whole tuning job: the experiment, then (with {@link TuneSettings#refine()}) a second, narrower
 * search around the best configurations of the first (coarse-then-fine), then the best trial of
 * either handed to a {@link Registrar}. How a stage runs (executors, progress, Spark) is the
 * caller's {@link StageRunner}; what to register and when is decided here.
 */
public final class Tuning {
    private Tuning() { }

    /** One finished stage: its state, its best trial (null if none produced the metric) and its folder. */
    public record Stage(ExperimentState state, Trial best, String dir) { }

    /** Runs one experiment stage in {@code dir}; {@code resuming}: continue it if it was started, else start it. */
    public interface StageRunner {
        Stage run(TuneSettings settings, String dir, boolean resuming) throws Exception;
    }

    /** Turns the best trial into a registered model; returns its reference (e.g. {@code land-cover:3}). */
    public interface Registrar {
        String register(String name, Trial best, Map<String, Object> trainableSettings);
    }

    /** The outcome: the stage whose best trial won, and the registered reference or null. */
    public record Outcome(Stage winner, String registered) { }

    public static Outcome run(TuneSettings settings, String dir, boolean resuming, StageRunner runner, Registrar registrar) throws Exception {
        Stage first = runner.run(settings, dir, resuming);
        Stage winner = first;
        if (settings.refine() && first.best() != null) {
            // resuming: the second stage resumes too if it had started (the runner starts it afresh if not)
            Stage second = runner.run(refined(settings, first.state()), first.dir() + "/stage-2", resuming);
            if (second.best() != null && settings.score(second.best()) > settings.score(first.best())) winner = second;
        }
        String ref = null;
        if (!settings.noRegister() && winner.best() != null) {
            ref = registrar.register(settings.name(), winner.best(), settings.trialSettings(winner.best().config()));
        }
        return new Outcome(winner, ref);
    }

    /**
     * The second stage's settings: the space narrowed around the {@code refineTop} best trials of the
     * first ({@link SearchSpace#narrow}), a different seed, and no further refinement.
     */
    public static TuneSettings refined(TuneSettings settings, ExperimentState first) {
        List<Map<String, Object>> top = first.trials.stream().filter(t -> t.lastMetric(settings.metric()) != null && !t.lastMetric(settings.metric()).isNaN())
                .sorted(Comparator.comparingDouble(settings::score).reversed()).limit(settings.refineTop()).map(Trial::config).toList();
        SearchSpace narrowed = settings.searchSpace().narrow(top);
        return settings.withSpace(narrowed.toJson()).withRefine(false).withSeed(settings.seed() + 1);
    }
}
