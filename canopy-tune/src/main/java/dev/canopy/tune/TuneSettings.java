package dev.canopy.tune;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.canopy.api.Json;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every setting of a tuning experiment, typed, with its default in one place ({@link #defaults}).
 * Stored in {@code experiment.json} (snake_case keys) so {@code --resume} continues with exactly the
 * settings the experiment started with.
 *
 * @param survey               survey URI the trials train on
 * @param space                the search space, as YAML or JSON text ({@link SearchSpace#parse})
 * @param inputSize            model input size; null for the architecture's default
 * @param master               Spark master for {@code executor = spark}; null for local[*]
 * @param refine               run a second, narrowed search around the best {@code refineTop} configurations
 * @param name                 registry name for the best model; ignored with {@code noRegister}
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record TuneSettings(String survey, String space, String scheduler, String searcher, int samples, int maxT, int gracePeriod,
                           double reductionFactor, int perturbationInterval, String metric, String mode, String model, Integer inputSize,
                           int maxTiles, long seed, int concurrency, int gpusPerTrial, int maxFailures, String executor, String master,
                           boolean refine, int refineTop, String name, boolean noRegister, int workersPerTrial) {

    public static TuneSettings defaults(String survey, String space) {
        return new TuneSettings(survey, space, "asha", "random", 16, 8, 1, 3.0, 2, "val_accuracy", "max", "small-cnn", null, 0, 42L,
                Runtime.getRuntime().availableProcessors(), 0, 2, "local", null, false, 3, "land-cover", false, 1);
    }

    public static TuneSettings fromMap(Map<String, Object> m) {
        return Json.MAPPER.convertValue(m, TuneSettings.class);
    }

    @SuppressWarnings("unchecked")
    public Map<String, Object> toMap() {
        return new LinkedHashMap<>(Json.MAPPER.convertValue(this, Map.class));
    }

    public SearchSpace searchSpace() {
        return SearchSpace.parse(space);
    }

    public Objective objective() {
        return Objective.of(metric, mode);
    }

    /** Higher is better, whatever the mode; trials without the metric rank last. */
    public double score(Trial t) {
        Double v = t.lastMetric(metric);
        if (v == null || v.isNaN()) return Double.NEGATIVE_INFINITY;
        return "min".equals(mode) ? -v : v;
    }

    public Schedulers.Options schedulerOptions() {
        return new Schedulers.Options(maxT, gracePeriod, reductionFactor, perturbationInterval, 0.25, 0.25, seed);
    }

    /** The trainable settings every trial shares; a trial's configuration is laid over them. */
    public Map<String, Object> trainableBase() {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("survey", survey);
        b.put("model", model);
        if (inputSize != null) b.put("input_size", inputSize);
        b.put("epochs", maxT);
        b.put("max_tiles", maxTiles);
        b.put("seed", seed);
        b.put("decode_threads", 1);
        // data-parallel trials: every trial's run is cut into this many ranks (left out at 1, so that older experiments'
        // trial settings stay as they were)
        if (workersPerTrial > 1) b.put("workers", workersPerTrial);
        return b;
    }

    /** A trial's full trainable settings: the shared base with the trial's configuration over it. */
    public Map<String, Object> trialSettings(Map<String, Object> trialConfig) {
        Map<String, Object> m = trainableBase();
        m.putAll(trialConfig);
        return m;
    }

    public TuneSettings withSpace(String s) { return new TuneSettings(survey, s, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withScheduler(String s) { return new TuneSettings(survey, space, s, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withSamples(int n) { return new TuneSettings(survey, space, scheduler, searcher, n, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withMaxT(int t) { return new TuneSettings(survey, space, scheduler, searcher, samples, t, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withReductionFactor(double f) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, f, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withInputSize(Integer s) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, s, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withMaxTiles(int n) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, n, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withSeed(long s) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, s, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withMaxFailures(int n) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, n, executor, master, refine, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withRefine(boolean r) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, r, refineTop, name, noRegister, workersPerTrial); }
    public TuneSettings withWorkersPerTrial(int w) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, noRegister, w); }
    public TuneSettings withNoRegister(boolean n) { return new TuneSettings(survey, space, scheduler, searcher, samples, maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed, concurrency, gpusPerTrial, maxFailures, executor, master, refine, refineTop, name, n, workersPerTrial); }
}
