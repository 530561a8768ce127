package dev.canopy.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.Json;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.tune.AshaScheduler;
import dev.canopy.tune.BohbSearcher;
import dev.canopy.tune.BudgetPlot;
import dev.canopy.tune.CurveReplay;
import dev.canopy.tune.FifoScheduler;
import dev.canopy.tune.HyperBandScheduler;
import dev.canopy.tune.Objective;
import dev.canopy.tune.SearchSpace;
import dev.canopy.tune.Searcher;
import dev.canopy.tune.Trial;
import dev.canopy.tune.TrialScheduler;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * Early stopping and model-based search against running everything, in one run: a pool of
 * configurations is trained once to max_t with every epoch's validation accuracy recorded (kept under
 * the bench folder, so a rerun replays at once), then FIFO, ASHA with random search, HyperBand with
 * random search and HyperBand with BOHB replay those curves through the real runner for each seed.
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "FIFO vs ASHA vs HyperBand vs BOHB over learning curves recorded once: trial-epochs, best accuracy, best accuracy per "
                + "trial-epoch (target: ASHA <= 20%% of FIFO's epochs within 1 point).")
final class BenchTune implements Callable<Integer> {
    static final String SPACE = """
            learning_rate: {loguniform: [0.0001, 0.1]}
            weight_decay: {loguniform: [0.00001, 0.01]}
            batch_size: {choice: [16, 32, 64]}
            lr_schedule: {choice: [cosine, constant]}
            """;

    static final long RECORD_SEED = 5L;
    static final int INPUT_SIZE = 32;

    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--samples", defaultValue = "64", description = "Configurations per study (default: ${DEFAULT-VALUE})")
    int samples;
    @Option(names = "--pool", defaultValue = "64", description = "Configurations recorded; each seed's random study is a sample of them, "
            + "BOHB chooses its own from all of them (default: ${DEFAULT-VALUE})")
    int pool;
    @Option(names = "--max-t", defaultValue = "27")
    int maxT;
    @Option(names = "--reduction-factor", defaultValue = "3")
    double reductionFactor;
    @Option(names = "--tiles", defaultValue = "1000")
    int tiles;
    @Option(names = "--seeds", defaultValue = "3")
    int seeds;
    @Option(names = "--slots", defaultValue = "4", description = "Trials running at once in the replay (default: ${DEFAULT-VALUE})")
    int slots;

    record Method(String name, Function<Integer, Searcher> searcher, Function<Integer, TrialScheduler> scheduler) { }

    @Override
    public Integer call() throws Exception {
        if (pool < samples) throw new UsageException("--pool (" + pool + ") must be at least --samples (" + samples + ")", "e.g. --pool 96 --samples 64");
        PrintWriter out = spec.commandLine().getOut();
        Path bench = parent.main.home().dir("bench");
        Objective acc = new Objective("val_accuracy", true);
        List<CurveReplay.Curve> curves = curves(bench, out);
        List<Map<String, Object>> all = curves.stream().map(CurveReplay.Curve::config).toList();
        SearchSpace space = SearchSpace.parse(SPACE);
        List<Method> methods = List.of(
                new Method("fifo", seed -> CurveReplay.inOrder(study(all, seed)), seed -> new FifoScheduler(maxT)),
                new Method("asha+random", seed -> CurveReplay.inOrder(study(all, seed)), seed -> new AshaScheduler(acc, maxT, 1, reductionFactor)),
                new Method("hyperband+random", seed -> CurveReplay.inOrder(study(all, seed)),
                        seed -> new HyperBandScheduler(acc, maxT, reductionFactor, 1, samples)),
                new Method("hyperband+bohb", seed -> BohbSearcher.overPool(space, seed, acc.metric(), true, all),
                        seed -> new HyperBandScheduler(acc, maxT, reductionFactor, 1, samples)));
        Map<String, List<CurveReplay.Run>> runs = new LinkedHashMap<>();
        for (Method m : methods) {
            for (int seed = 1; seed <= seeds; seed++) {
                runs.computeIfAbsent(m.name(), k -> new ArrayList<>())
                        .add(CurveReplay.run(curves, m.searcher().apply(seed), m.scheduler().apply(seed), samples, slots, maxT, acc));
            }
        }
        double fifoEpochs = mean(runs.get("fifo"), r -> (double) r.trialEpochs());
        double fifoBest = mean(runs.get("fifo"), CurveReplay.Run::best);
        long ashaBudget = Math.round(mean(runs.get("asha+random"), r -> (double) r.trialEpochs()));
        out.printf("%n%d configurations per study from a pool of %d recorded curves, max_t %d, reduction factor %s, %d seeds, %d trials at once%n",
                samples, pool, maxT, reductionFactor, seeds, slots);
        out.printf("%-17s %14s %10s %14s %10s %22s%n", "method", "trial-epochs", "of FIFO", "best val_acc", "gap (pts)",
                "best at " + ashaBudget + " epochs");
        for (var e : runs.entrySet()) {
            double epochs = mean(e.getValue(), r -> (double) r.trialEpochs());
            double best = mean(e.getValue(), CurveReplay.Run::best);
            double atBudget = mean(e.getValue(), r -> r.bestAt(ashaBudget));
            out.printf("%-17s %14.0f %9.1f%% %14.4f %10.2f %22.4f%n", e.getKey(), epochs, 100 * epochs / fifoEpochs, best, 100 * (fifoBest - best), atBudget);
        }
        printBestByBudget(out, runs, ashaBudget);
        double ashaShare = mean(runs.get("asha+random"), r -> (double) r.trialEpochs()) / fifoEpochs;
        double ashaGap = 100 * (fifoBest - mean(runs.get("asha+random"), CurveReplay.Run::best));
        out.printf("%nASHA used %.1f%% of FIFO's trial-epochs (target <= 20%%) with best accuracy %.2f points below FIFO's (target <= 1), "
                + "averaged over %d seeds%n", 100 * ashaShare, ashaGap, seeds);
        Map<String, double[]> meanCurves = new LinkedHashMap<>();
        for (var e : runs.entrySet()) meanCurves.put(e.getKey(), meanBestSoFar(e.getValue(), (int) fifoEpochs));
        Path svg = bench.resolve("tune-budget.svg");
        // the x axis spans twice the longest early-stopping run: FIFO's long tail would squeeze the part where the methods differ
        int xMax = (int) Math.min(Integer.MAX_VALUE, 2 * longestEarlyStopping(runs, (long) fifoEpochs));
        Files.writeString(svg, BudgetPlot.svg(meanCurves, acc.metric(), String.format("Best %s by trial-epochs spent (mean of %d seeds; FIFO goes on to %.0f)",
                acc.metric(), seeds, fifoEpochs), Math.min(xMax, (int) fifoEpochs)));
        out.printf("plot: %s%n", svg);
        return 0;
    }

    /**
     * Best accuracy reached per trial-epoch spent, as a table: the plot's curves read at an eighth, a quarter, a half
     * and all of ASHA's budget, and at the longest early-stopping run's budget (a run that stopped earlier keeps its best).
     */
    private static void printBestByBudget(PrintWriter out, Map<String, List<CurveReplay.Run>> runs, long ashaBudget) {
        long longest = longestEarlyStopping(runs, ashaBudget);
        List<Long> budgets = new ArrayList<>();
        for (long b : new long[] {ashaBudget / 8, ashaBudget / 4, ashaBudget / 2, ashaBudget, longest}) if (b > 0 && !budgets.contains(b)) budgets.add(b);
        out.printf("%nbest val_acc after N trial-epochs (mean of the seeds)%n%-17s", "method");
        for (long b : budgets) out.printf(" %9s", "N=" + b);
        out.println();
        for (var e : runs.entrySet()) {
            out.printf("%-17s", e.getKey());
            for (long b : budgets) out.printf(" %9.4f", mean(e.getValue(), r -> r.bestAt(b)));
            out.println();
        }
    }

    /** Trial-epochs of the longest run (any seed) of a method that stops trials early, so no seed's run is cut off. */
    private static long longestEarlyStopping(Map<String, List<CurveReplay.Run>> runs, long otherwise) {
        return runs.entrySet().stream().filter(e -> !e.getKey().equals("fifo")).flatMap(e -> e.getValue().stream())
                .mapToLong(CurveReplay.Run::trialEpochs).max().orElse(otherwise);
    }

    /** The seed's study: {@code samples} configurations of the pool, in a seeded random order (random search). */
    private List<Map<String, Object>> study(List<Map<String, Object>> all, int seed) {
        List<Map<String, Object>> shuffled = new ArrayList<>(all);
        Collections.shuffle(shuffled, new Random(seed));
        return shuffled.subList(0, samples);
    }

    private static double mean(List<CurveReplay.Run> runs, Function<CurveReplay.Run, Double> f) {
        return runs.stream().mapToDouble(f::apply).average().orElse(Double.NaN);
    }

    private static double[] meanBestSoFar(List<CurveReplay.Run> runs, int length) {
        double[] mean = new double[length];
        for (int i = 0; i < length; i++) {
            int at = i + 1;
            mean[i] = runs.stream().mapToDouble(r -> r.bestAt(at)).average().orElse(Double.NaN);
        }
        return mean;
    }

    /** Every pool configuration's curve, recorded once by a FIFO study on a generated survey and kept as JSON. */
    private List<CurveReplay.Curve> curves(Path bench, PrintWriter out) throws Exception {
        // named after everything the curves depend on: a changed space or setting records afresh instead of replaying stale curves
        String what = SPACE + "|seed " + RECORD_SEED + "|input " + INPUT_SIZE;
        Path file = bench.resolve(String.format("tune-curves-t%d-p%d-m%d-%s.json", tiles, pool, maxT,
                dev.canopy.api.Digests.sha256(what.getBytes(java.nio.charset.StandardCharsets.UTF_8)).substring(0, 8)));
        if (Files.isRegularFile(file)) {
            out.printf("replaying recorded curves from %s%n", file);
            return Json.MAPPER.readValue(Files.readAllBytes(file), new TypeReference<List<CurveReplay.Curve>>() { });
        }
        Path survey = bench.resolve("tune-survey-" + tiles);
        try (FileObjectStore store = new FileObjectStore(survey)) {
            if (!store.exists("survey.json")) SurveyRuns.generate(SurveySpec.of(tiles, 64, 13), store, true, Runtime.getRuntime().availableProcessors(), parent.main.progress());
        }
        out.printf("recording %d configurations x %d epochs (once; later runs replay %s)%n", pool, maxT, file);
        dev.canopy.tune.TuneSettings s = dev.canopy.tune.TuneSettings.defaults(survey.toUri().toString(), SPACE).withScheduler("fifo")
                .withSamples(pool).withMaxT(maxT).withInputSize(INPUT_SIZE).withSeed(RECORD_SEED).withMaxFailures(1).withNoRegister(true);
        var stage = TuneCommand.run(parent.main, s, bench.resolve("tune-record-" + System.currentTimeMillis()).toString(), false, out);
        List<CurveReplay.Curve> curves = new ArrayList<>();
        for (Trial t : stage.state().trials) {
            if (t.getResults().size() < maxT) continue; // a failed trial has no full curve
            double[] v = new double[maxT];
            for (TrialResult r : t.getResults()) if (r.iteration() <= maxT) v[r.iteration() - 1] = r.metric("val_accuracy");
            curves.add(new CurveReplay.Curve(t.config(), v));
        }
        if (curves.size() < samples) throw new UsageException("only " + curves.size() + " of " + pool + " configurations trained to max_t", "see the log and rerun");
        Files.write(file, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(curves));
        return curves;
    }
}
