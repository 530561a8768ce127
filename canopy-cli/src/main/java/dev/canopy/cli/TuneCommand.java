package dev.canopy.cli;

import dev.canopy.spark.SparkSessions;
import dev.canopy.spark.SparkTrialExecutor;
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
import dev.canopy.tune.TuneSettings;
import dev.canopy.tune.Tuning;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
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
    @Option(names = "--searcher", defaultValue = "random", description = "random, grid, tpe or bohb (model-based proposals for --scheduler hyperband or asha, fitted at every rung; default: ${DEFAULT-VALUE})")
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
    @Option(names = "--workers-per-trial", defaultValue = "1", description = "Data-parallel ranks per trial: each trial trains as that many Spark "
            + "barrier tasks summing gradients every step (implies --executor spark, on local[concurrency x workers] unless --master or --cluster; "
            + "default: ${DEFAULT-VALUE})")
    int workersPerTrial;
    @Option(names = "--max-failures", defaultValue = "2", description = "Retries of a failing trial (default: ${DEFAULT-VALUE})")
    int maxFailures;
    @Option(names = "--executor", defaultValue = "local", description = "local or spark (default: ${DEFAULT-VALUE})")
    String executor;
    @Option(names = "--master", description = "Spark master for --executor spark (default: local[*])")
    String master;
    @Option(names = "--cluster", description = "Run the trials on this Canopy cluster (see 'canopy cluster list'): implies --executor spark")
    String cluster;
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
        TuneSettings settings;
        if (resume != null) {
            try (ObjectStore s = ObjectStores.open(resume)) {
                settings = TuneSettings.fromMap(Experiment.load(s).spec);
            }
            if (noRegister) settings = settings.withNoRegister(true);
            out.printf("resuming experiment %s%n", ObjectStores.toUri(resume));
        } else {
            if (survey == null || space == null) throw new UsageException("--survey and --space are required (or --resume DIR)", "see canopy tune --help");
            if (!Files.isRegularFile(space)) throw new UsageException("search space file not found: " + space, "give a YAML or JSON file");
            settings = settings();
        }
        if (dryRun) {
            plan(settings, out);
            return 0;
        }
        String dirArg = resume != null ? resume : dir;
        Tuning.Outcome o = Tuning.run(settings, dirArg, resume != null, (st, d, resuming) -> run(main, st, d, resuming && started(d), out), registrar(main));
        if (o.registered() != null) out.printf("registered %s (best trial %s)%n", o.registered(), o.winner().best().id());
        return 0;
    }

    private TuneSettings settings() throws Exception {
        return new TuneSettings(ObjectStores.toUri(survey).toString(), Files.readString(space, StandardCharsets.UTF_8), scheduler, searcher, samples,
                maxT, gracePeriod, reductionFactor, perturbationInterval, metric, mode, model, inputSize, maxTiles, seed,
                concurrency == null ? Runtime.getRuntime().availableProcessors() : concurrency, gpusPerTrial, maxFailures,
                cluster != null ? "spark" : executor, ClusterCommand.master(main, cluster, master), refine,
                refineTop, name, noRegister, workersPerTrial);
    }

    /** True if an experiment was started in {@code dir} (its state file exists). */
    static boolean started(String dir) {
        try (ObjectStore s = ObjectStores.open(dir)) {
            return s.exists(Experiment.STATE);
        }
    }

    /** Restores the best trial's checkpoint into a trainable and registers it as a model version. */
    static Tuning.Registrar registrar(Main main) {
        return (name, best, trialSettings) -> {
            try (TileClassifierTrainable t = new TileClassifierTrainable()) {
                t.setup(trialSettings);
                t.restore(URI.create(best.getCheckpoint()));
                return TrainingRun.register(main.registry(), name, t).ref();
            }
        };
    }

    static void plan(TuneSettings s, PrintWriter out) {
        var searcher = Schedulers.searcher(s.searcher(), s.searchSpace(), s.seed(), s.objective());
        int samples = searcher.capacity() < 0 ? s.samples() : Math.min(s.samples(), searcher.capacity());
        TrialScheduler scheduler = Schedulers.create(s.scheduler(), s.objective(), s.schedulerOptions(), samples, s.searchSpace());
        out.println(scheduler.describePlan(samples));
        out.printf("searcher %s over %s; %d trials at most %d at a time; metric %s (%s)%n", s.searcher(), s.searchSpace().params().keySet(),
                samples, s.concurrency(), s.metric(), s.mode());
    }

    /** Runs one stage of an experiment with progress on the console; its folder defaults to one under the Canopy home. */
    static Tuning.Stage run(Main main, TuneSettings s, String dirArg, boolean resuming, PrintWriter out) throws Exception {
        return run(main, s, dirArg, resuming, out, java.util.Map.of());
    }

    /** As above, with trainable settings every trial shares beyond the tune settings' own (e.g. a validation manifest). */
    static Tuning.Stage run(Main main, TuneSettings s, String dirArg, boolean resuming, PrintWriter out, java.util.Map<String, Object> extraBase)
            throws Exception {
        SearchSpace space = s.searchSpace();
        Objective objective = s.objective();
        var searcher = Schedulers.searcher(s.searcher(), space, s.seed(), objective);
        // a grid smaller than --samples ends the experiment early: the scheduler must plan for the trials that will exist
        int samples = searcher.capacity() < 0 ? s.samples() : Math.min(s.samples(), searcher.capacity());
        int maxT = s.maxT();
        TrialScheduler scheduler = Schedulers.create(s.scheduler(), objective, s.schedulerOptions(), samples, space);
        // a bad parameter name fails here, before any trial starts
        java.util.Map<String, Object> probe = new java.util.LinkedHashMap<>(s.trialSettings(space.sample(new java.util.Random(0))));
        probe.putAll(extraBase);
        TrainConfig.fromMap(probe);

        URI dirUri = dirArg != null ? ObjectStores.toUri(dirArg)
                : main.home().dir("tune").resolve("tune-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))).toUri();
        java.util.Map<String, Object> base = new java.util.LinkedHashMap<>(s.trainableBase());
        base.putAll(extraBase);
        TrainableFactory factory = new TrainableFactory(TileClassifierTrainable.class.getName(), base);
        SparkSession spark = null;
        TrialExecutor executor;
        int ranks = Math.max(1, s.workersPerTrial());
        if ("spark".equals(s.executor()) || ranks > 1) {
            // data-parallel trials need their ranks' task slots at once: on this machine, as many as the concurrent trials' ranks
            String where = s.master() != null ? s.master() : ranks > 1 ? SparkSessions.localWithSlots(s.concurrency() * ranks) : null;
            spark = SparkSessions.create(where, "canopy-tune", List.of());
            executor = new SparkTrialExecutor(spark, factory, s.concurrency(), ranks);
        } else if ("local".equals(s.executor())) {
            executor = new LocalTrialExecutor(factory, new TrialExecutor.Resources(s.concurrency(), s.gpusPerTrial() * s.concurrency()),
                    new TrialExecutor.Resources(1, s.gpusPerTrial()));
        } else {
            throw new TuneException("unknown executor '" + s.executor() + "'", "use --executor local or --executor spark");
        }
        ConsoleProgress bar = main.progress();
        try (ObjectStore store = ObjectStores.open(dirUri.toString())) {
            out.printf("log %s%n", main.jobLog(dirUri, "tune"));
            out.printf("experiment %s: %s, %d samples, max_t %d, on %s (resume with: canopy tune --resume %s)%n", dirUri, s.scheduler(), samples,
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
            Experiment exp = resuming ? Experiment.resume(store, searcher, scheduler, executor, samples, maxT, s.maxFailures(), s.metric(), listener)
                    : Experiment.create(store, s.toMap(), searcher, scheduler, executor, samples, maxT, s.maxFailures(), s.metric(), listener);
            ExperimentState state = exp.run();
            bar.finish();
            String svg = TrialPlot.svg(state.trials, objective, maxT, "canopy tune: " + s.scheduler() + ", " + samples + " trials");
            store.put("trials.svg", svg.getBytes(StandardCharsets.UTF_8));
            report(out, state, objective, maxT, space);
            out.printf("plot     %s%n", store.uri("trials.svg"));
            Trial best = Experiment.best(state.trials, objective).orElse(null);
            return new Tuning.Stage(state, best, dirUri.toString());
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
}
