package dev.canopy.cli;

import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.tune.Experiment;
import dev.canopy.tune.Objective;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** ASHA against running every configuration to the end, same configurations, one run. */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "ASHA vs FIFO on the same sampled configurations: trial-epochs used and best accuracy (target: <= 20%% of the epochs, within 1 point).")
final class BenchTune implements Callable<Integer> {
    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--samples", defaultValue = "32")
    int samples;
    @Option(names = "--max-t", defaultValue = "16")
    int maxT;
    @Option(names = "--reduction-factor", defaultValue = "4")
    double reductionFactor;
    @Option(names = "--tiles", defaultValue = "1200")
    int tiles;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path bench = parent.main.home().dir("bench");
        Path survey = bench.resolve("tune-survey-" + tiles);
        try (FileObjectStore store = new FileObjectStore(survey)) {
            if (!store.exists("survey.json")) SurveyRuns.generate(SurveySpec.of(tiles, 64, 13), store, true, Runtime.getRuntime().availableProcessors(), parent.main.progress());
        }
        Map<String, dev.canopy.tune.Tuning.Stage> results = new LinkedHashMap<>();
        Map<String, Double> seconds = new LinkedHashMap<>();
        for (String scheduler : new String[] {"asha", "fifo"}) {
            dev.canopy.tune.TuneSettings s = dev.canopy.tune.TuneSettings.defaults(survey.toUri().toString(), """
                    learning_rate: {loguniform: [0.0001, 0.1]}
                    weight_decay: {loguniform: [0.00001, 0.01]}
                    batch_size: {choice: [16, 32, 64]}
                    lr_schedule: {choice: [cosine, constant]}
                    """).withScheduler(scheduler).withSamples(samples).withMaxT(maxT).withReductionFactor(reductionFactor).withInputSize(32)
                    .withSeed(5L).withMaxFailures(1).withNoRegister(true);
            long t0 = System.nanoTime();
            results.put(scheduler, TuneCommand.run(parent.main, s, bench.resolve("tune-" + scheduler + "-" + System.currentTimeMillis()).toString(),
                    false, out));
            seconds.put(scheduler, (System.nanoTime() - t0) / 1e9);
        }
        Objective acc = new Objective("val_accuracy", true);
        out.printf("%n%-6s %8s %14s %14s %10s%n", "sched", "trials", "trial-epochs", "best val_acc", "seconds");
        for (var e : results.entrySet()) {
            Experiment.Cost c = Experiment.cost(e.getValue().state().trials, maxT);
            out.printf("%-6s %8d %14d %14.4f %10.1f%n", e.getKey(), e.getValue().state().trials.size(), c.used(),
                    e.getValue().best().lastMetric(acc.metric()), seconds.get(e.getKey()));
        }
        long asha = Experiment.cost(results.get("asha").state().trials, maxT).used();
        long fifo = Experiment.cost(results.get("fifo").state().trials, maxT).used();
        double gap = 100 * (results.get("fifo").best().lastMetric(acc.metric()) - results.get("asha").best().lastMetric(acc.metric()));
        out.printf("%nASHA used %.1f%% of FIFO's trial-epochs (target <= 20%%); best accuracy %.2f points below FIFO's (target <= 1)%n",
                100.0 * asha / fifo, gap);
        return 0;
    }
}
