package dev.canopy.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.Json;
import dev.canopy.model.ModelRegistry;
import dev.canopy.spark.SparkSessions;
import dev.canopy.spark.SparkTrialExecutor;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.train.TileClassifierTrainable;
import dev.canopy.train.TrainConfig;
import dev.canopy.train.TrainingRun;
import dev.canopy.tune.Experiment;
import dev.canopy.tune.ExperimentState;
import dev.canopy.tune.LocalTrialExecutor;
import dev.canopy.tune.Objective;
import dev.canopy.tune.Schedulers;
import dev.canopy.tune.SearchSpace;
import dev.canopy.tune.TrainableFactory;
import dev.canopy.tune.Trial;
import dev.canopy.tune.TrialExecutor;
import dev.canopy.tune.TrialPlot;
import dev.canopy.tune.TrialScheduler;
import dev.canopy.tune.TuneException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Hyperparameter search with early stopping (ASHA, HyperBand, median stopping, PBT), resumable, with a plot and a cost report.")
final class TuneCommand implements Callable<Integer> {
    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--survey", description = "Survey to train on")
    String survey;
    @Option(names = "--space", description = "Search space file (YAML or JSON)")
    Path space;
    @Option(names = "--scheduler", defaultValue = "asha", description = "fifo, asha, hyperband, median or pbt (default: ${DEFAULT-VALUE})")
    String scheduler;
    @Option(names = "--searcher", defaultValue = "random", description = "random, grid or tpe (default: ${DEFAULT-VALUE})")
    String searcher;
    @Option(names = "--samples", defaultValue = "16", description = "Configurations to try (default: ${DEFAULT-VALUE})")
    int samples;
    @Option(names = "--max-t", defaultValue = "8", description = "Most epochs a trial may train (default: ${DEFAULT-VALUE})")
    int maxT;
    @Option(names = "--grace-period", defaultValue = "1", description = "Epochs before a trial may be stopped (default: ${DEFAULT-VALUE})")
    int gracePeriod;
    @Option(names = "--reduction-factor", defaultValue = "3", description = "ASHA/HyperBand halving rate (default: ${DEFAULT-VALUE})")
    double reductionFactor;
    @Option(names = "--perturbation-interval", defaultValue = "2", description = "PBT: epochs between exploit/explore (default: ${DEFAULT-VALUE})")
    int perturbationInterval;
    @Option(names = "--metric", defaultValue = "val_accuracy", description = "Metric to optimise (default: ${DEFAULT-VALUE})")
    String metric;
    @Option(names = "--mode", defaultValue = "max", description = "max or min (default: ${DEFAULT-VALUE})")
    String mode;
    @Option(names = "--model", defaultValue = "small-cnn", description = "Architecture (default: ${DEFAULT-VALUE})")
    String model;
    @Option(names = "--input-size", description = "Input size in px (default: the model's)")
    Integer inputSize;
    @Option(names = "--max-tiles", defaultValue = "0", description = "Use at most N tiles per trial (0: all)")
    int maxTiles;
    @Option(names = "--seed", defaultValue = "42", description = "Seed of the searcher and trials (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--concurrency", description = "Trials at once (default: cores)")
    Integer concurrency;
    @Option(names = "--gpus-per-trial", defaultValue = "0", description = "GPU slots per trial (default: ${DEFAULT-VALUE}; this build trains on CPU)")
    int gpusPerTrial;
    @Option(names = "--max-failures", defaultValue = "2", description = "Retries of a failing trial (default: ${DEFAULT-VALUE})")
    int maxFailures;
    @Option(names = "--executor", defaultValue = "local", description = "local or spark (default: ${DEFAULT-VALUE})")
    String executor;
    @Option(names = "--master", description = "Spark master for --executor spark (default: local[*])")
    String master;
    @Option(names = "--dir", description = "Experiment folder (default: HOME/tune/tune-TIMESTAMP)")
    String dir;
    @Option(names = "--resume", description = "Continue the experiment in this folder")
    String resume;
    @Option(names = "--refine", description = "After the search, narrow the space around the top configurations and search again")
    boolean refine;
    @Option(names = "--refine-top", defaultValue = "3", description = "Configurations the refined space is built around (default: ${DEFAULT-VALUE})")
    int refineTop;
    @Option(names = "--dry-run", description = "Print the scheduler's plan and exit")
    boolean dryRun;
    @Option(names = "--name", defaultValue = "land-cover", description = "Registry name for the best model (default: ${DEFAULT-VALUE})")
    String name;
    @Option(names = "--no-register", description = "Do not register the best model")
    boolean noRegister;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> settings;
        if (resume != null) {
            try (ObjectStore s = ObjectStores.open(resume)) {
                settings = Experiment.load(s).spec;
            }
            out.printf("resuming experiment %s%n", ObjectStores.toUri(resume));
        } else {
            if (survey == null || space == null) throw new UsageException("--survey and --space are required (or --resume DIR)", "see canopy tune --help");
            if (!Files.isRegularFile(space)) throw new UsageException("search space file not found: " + space, "give a YAML or JSON file");
            settings = settings();
        }
        Result r = run(main, settings, resume != null ? resume : dir, resume != null, dryRun, out);
        if (r == null) return 0;
        if (Boolean.TRUE.equals(settings.get("refine"))) {
            List<Map<String, Object>> top = r.state().trials.stream().filter(t -> t.lastMetric(metric(settings)) != null)
                    .sorted(Comparator.comparingDouble((Trial t) -> score(settings, t)).reversed()).limit(((Number) settings.get("refine_top")).intValue())
                    .map(Trial::config).toList();
            SearchSpace narrowed = SearchSpace.parse((String) settings.get("space")).narrow(top);
            Map<String, Object> second = new LinkedHashMap<>(settings);
            second.put("space", Json.MAPPER.writeValueAsString(spaceToJson(narrowed)));
            second.put("refine", false);
            second.put("seed", ((Number) settings.get("seed")).longValue() + 1);
            out.printf("%nrefining around the top %d configurations: %s%n", top.size(), second.get("space"));
            Result r2 = run(main, second, r.dir() + "/stage-2", false, false, out);
            if (r2 != null && score(settings, r2.best()) > score(settings, r.best())) r = r2;
        }
        if (!Boolean.TRUE.equals(settings.get("no_register")) && r.best() != null) register(main, settings, r, out);
        return 0;
    }

    record Result(ExperimentState state, Trial best, String dir) { }

    private Map<String, Object> settings() throws Exception {
        Map<String, Object> s = defaults(ObjectStores.toUri(survey).toString(), Files.readString(space, StandardCharsets.UTF_8));
        SearchSpace.parse((String) s.get("space")); // fail fast on a bad space
        s.put("scheduler", scheduler);
        s.put("searcher", searcher);
        s.put("samples", samples);
        s.put("max_t", maxT);
        s.put("grace_period", gracePeriod);
        s.put("reduction_factor", reductionFactor);
        s.put("perturbation_interval", perturbationInterval);
        s.put("metric", metric);
        s.put("mode", mode);
        s.put("model", model);
        if (inputSize != null) s.put("input_size", inputSize);
        s.put("max_tiles", maxTiles);
        s.put("seed", seed);
        s.put("concurrency", concurrency == null ? Runtime.getRuntime().availableProcessors() : concurrency);
        s.put("gpus_per_trial", gpusPerTrial);
        s.put("max_failures", maxFailures);
        s.put("executor", executor);
        if (master != null) s.put("master", master);
        s.put("refine", refine);
        s.put("refine_top", refineTop);
        s.put("name", name);
        s.put("no_register", noRegister);
        return s;
    }

    /** Every experiment setting with its default; callers (demo, bench) override what they need. */
    static Map<String, Object> defaults(String surveyUri, String spaceText) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("survey", surveyUri);
        s.put("space", spaceText);
        s.put("scheduler", "asha");
        s.put("searcher", "random");
        s.put("samples", 16);
        s.put("max_t", 8);
        s.put("grace_period", 1);
        s.put("reduction_factor", 3.0);
        s.put("perturbation_interval", 2);
        s.put("metric", "val_accuracy");
        s.put("mode", "max");
        s.put("model", "small-cnn");
        s.put("max_tiles", 0);
        s.put("seed", 42L);
        s.put("concurrency", Runtime.getRuntime().availableProcessors());
        s.put("gpus_per_trial", 0);
        s.put("max_failures", 2);
        s.put("executor", "local");
        s.put("refine", false);
        s.put("refine_top", 3);
        s.put("name", "land-cover");
        s.put("no_register", false);
        return s;
    }

    static String metric(Map<String, Object> s) {
        return (String) s.get("metric");
    }

    static double score(Map<String, Object> s, Trial t) {
        Double v = t.lastMetric(metric(s));
        if (v == null) return Double.NEGATIVE_INFINITY;
        return "min".equals(s.get("mode")) ? -v : v;
    }

    /** The trainable settings every trial shares; a trial's configuration is laid over them. */
    static Map<String, Object> base(Map<String, Object> s) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("survey", s.get("survey"));
        b.put("model", s.get("model"));
        if (s.containsKey("input_size")) b.put("input_size", s.get("input_size"));
        b.put("epochs", s.get("max_t"));
        b.put("max_tiles", s.get("max_tiles"));
        b.put("seed", s.get("seed"));
        b.put("decode_threads", 1);
        return b;
    }

    static Result run(Main main, Map<String, Object> s, String dirArg, boolean resuming, boolean dryRun, PrintWriter out) throws Exception {
        SearchSpace space = SearchSpace.parse((String) s.get("space"));
        Objective objective = Objective.of(metric(s), (String) s.get("mode"));
        int samples = ((Number) s.get("samples")).intValue();
        int maxT = ((Number) s.get("max_t")).intValue();
        Schedulers.Options o = new Schedulers.Options(maxT, ((Number) s.get("grace_period")).intValue(), ((Number) s.get("reduction_factor")).doubleValue(),
                ((Number) s.get("perturbation_interval")).intValue(), 0.25, 0.25, ((Number) s.get("seed")).longValue());
        TrialScheduler scheduler = Schedulers.create((String) s.get("scheduler"), objective, o, samples, space);
        var searcher = Schedulers.searcher((String) s.get("searcher"), space, ((Number) s.get("seed")).longValue(), objective);
        if (dryRun) {
            out.println(scheduler.describePlan(samples));
            out.printf("searcher %s over %s; %d trials at most %d at a time; metric %s (%s)%n", s.get("searcher"), space.params().keySet(), samples,
                    ((Number) s.get("concurrency")).intValue(), metric(s), s.get("mode"));
            return null;
        }
        // a bad parameter name fails here, before any trial starts
        Map<String, Object> probe = new LinkedHashMap<>(base(s));
        probe.putAll(space.sample(new java.util.Random(0)));
        TrainConfig.fromMap(probe);

        URI dirUri = dirArg != null ? ObjectStores.toUri(dirArg)
                : main.home().dir("tune").resolve("tune-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))).toUri();
        TrainableFactory factory = new TrainableFactory(TileClassifierTrainable.class.getName(), base(s));
        int concurrency = ((Number) s.get("concurrency")).intValue();
        SparkSession spark = null;
        TrialExecutor executor;
        if ("spark".equals(s.get("executor"))) {
            spark = SparkSessions.create((String) s.get("master"), "canopy-tune", List.of());
            executor = new SparkTrialExecutor(spark, factory, concurrency);
        } else if ("local".equals(s.get("executor"))) {
            int gpus = ((Number) s.get("gpus_per_trial")).intValue();
            executor = new LocalTrialExecutor(factory, new TrialExecutor.Resources(concurrency, gpus * concurrency), new TrialExecutor.Resources(1, gpus));
        } else {
            throw new TuneException("unknown executor '" + s.get("executor") + "'", "use --executor local or --executor spark");
        }
        ConsoleProgress bar = main.progress();
        try (ObjectStore store = ObjectStores.open(dirUri.toString())) {
            out.printf("log %s%n", main.jobLog(dirUri, "tune"));
            out.printf("experiment %s: %s, %d samples, max_t %d, on %s (resume with: canopy tune --resume %s)%n", dirUri, s.get("scheduler"), samples,
                    maxT, executor.describe(), dirUri);
            long budget = (long) samples * maxT;
            bar.start("tune", budget);
            Experiment.Listener listener = (e, t, what) -> {
                if (what == Experiment.Event.ADDED || what == Experiment.Event.EXPLOIT || what == Experiment.Event.RETRY) return;
                long used = e.trials().stream().mapToLong(Trial::getSegmentsRun).sum();
                long notRun = e.trials().stream().filter(Trial::isFinished).mapToLong(x -> maxT - x.getSegmentsRun()).filter(x -> x > 0).sum();
                bar.setProgress(Math.min(budget, used + notRun));
                long runningN = e.trials().stream().filter(x -> x.getStatus() == Trial.Status.RUNNING || x.getStatus() == Trial.Status.PENDING).count();
                long stopped = e.trials().stream().filter(x -> x.getStatus() == Trial.Status.STOPPED).count();
                String best = Experiment.best(e.trials(), objective).map(b -> String.format("%.3f (%s)", b.lastMetric(objective.metric()), b.id())).orElse("-");
                bar.message(String.format("running %d, stopped %d, best %s", runningN, stopped, best));
                if (what.isEnd()) {
                    bar.println(String.format("%s %-9s at epoch %d: %s %s", t.id(), what == Experiment.Event.STOP ? "stopped" : what.name().toLowerCase(java.util.Locale.ROOT), t.iteration(), objective.metric(),
                            t.lastMetric(objective.metric()) == null ? "-" : String.format("%.4f", t.lastMetric(objective.metric()))));
                }
            };
            Experiment exp = resuming ? Experiment.resume(store, searcher, scheduler, executor, samples, maxT, ((Number) s.get("max_failures")).intValue(),
                    metric(s), listener)
                    : Experiment.create(store, s, searcher, scheduler, executor, samples, maxT, ((Number) s.get("max_failures")).intValue(), metric(s), listener);
            ExperimentState state = exp.run();
            bar.finish();
            String svg = TrialPlot.svg(state.trials, objective, maxT, "canopy tune: " + s.get("scheduler") + ", " + samples + " trials");
            store.put("trials.svg", svg.getBytes(StandardCharsets.UTF_8));
            report(out, state, objective, maxT, space);
            out.printf("plot     %s%n", store.uri("trials.svg"));
            Trial best = Experiment.best(state.trials, objective).orElse(null);
            return new Result(state, best, dirUri.toString());
        } finally {
            executor.close();
            if (spark != null) spark.stop();
        }
    }

    static void report(PrintWriter out, ExperimentState state, Objective objective, int maxT, SearchSpace space) {
        List<String> keys = new ArrayList<>(space.params().keySet());
        out.printf("%n%-10s %-10s %6s %10s  %s%n", "TRIAL", "STATUS", "EPOCHS", objective.metric(), String.join("  ", keys));
        for (Trial t : state.trials) {
            StringBuilder params = new StringBuilder();
            for (String k : keys) {
                Object v = t.config().get(k);
                params.append(v instanceof Double d ? String.format("%.4g", d) : String.valueOf(v)).append("  ");
            }
            Double m = t.lastMetric(objective.metric());
            out.printf("%-10s %-10s %6d %10s  %s%n", t.id(), t.getStatus().name().toLowerCase(), t.iteration(), m == null ? "-" : String.format("%.4f", m), params);
        }
        Experiment.Cost c = Experiment.cost(state.trials, maxT);
        out.printf("%ncost     %d trial-epochs used of %d to run every trial to max_t: %.1f%% saved%n", c.used(), c.full(), c.savedPercent());
        Experiment.best(state.trials, objective).ifPresent(b -> out.printf("best     %s %s %.4f with %s%n", b.id(), objective.metric(),
                b.lastMetric(objective.metric()), b.config()));
    }

    static void register(Main main, Map<String, Object> s, Result r, PrintWriter out) {
        TrainableFactory factory = new TrainableFactory(TileClassifierTrainable.class.getName(), base(s));
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(factory.merge(r.best().config()));
            t.restore(URI.create(r.best().getCheckpoint()));
            ModelRegistry.Version v = TrainingRun.register(main.registry(), (String) s.get("name"), t);
            out.printf("registered %s (best trial %s)%n", v.ref(), r.best().id());
        }
    }

    @SuppressWarnings("unchecked")
    private static Object spaceToJson(SearchSpace space) {
        Map<String, Object> m = new LinkedHashMap<>();
        space.params().forEach((k, d) -> m.put(k, domainToJson(d)));
        return m;
    }

    private static Object domainToJson(dev.canopy.tune.Domain d) {
        if (d instanceof dev.canopy.tune.Domain.Uniform u) return Map.of("uniform", List.of(u.low(), u.high()));
        if (d instanceof dev.canopy.tune.Domain.LogUniform l) return Map.of("loguniform", List.of(l.low(), l.high()));
        if (d instanceof dev.canopy.tune.Domain.IntRange r) return Map.of("qrandint", List.of(r.low(), r.high(), r.q()));
        if (d instanceof dev.canopy.tune.Domain.Choice c) return Map.of("choice", c.values().stream().map(v -> v instanceof dev.canopy.tune.Domain.Group g ? domainToJson(g) : v).toList());
        if (d instanceof dev.canopy.tune.Domain.Grid g) return Map.of("grid_search", g.values());
        if (d instanceof dev.canopy.tune.Domain.Constant c) return c.value();
        if (d instanceof dev.canopy.tune.Domain.Group g) {
            Map<String, Object> m = new LinkedHashMap<>();
            g.children().forEach((k, v) -> m.put(k, domainToJson(v)));
            return m;
        }
        throw new IllegalStateException(d.toString());
    }
}
