package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.api.train.Trainable;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.train.TileClassifierTrainable;
import dev.canopy.train.TrainConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** Benchmarks that print a table measured in one run. Targets live here, never in timed tests. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure Canopy on this machine and print a table.",
        subcommands = {BenchCommand.Survey.class, BenchCommand.Train.class, BenchInfer.class, BenchCluster.class, BenchTrainDist.class, BenchTune.class, BenchServe.class, BenchInferMemory.class,
                BenchScale.class, BenchServer.class})
final class BenchCommand {
    @ParentCommand
    Main main;

    @Command(name = "survey", mixinStandardHelpOptions = true, description = "Time survey generation (target: 10,000 tiles of 256 px well under a minute).")
    static final class Survey implements Callable<Integer> {
        @ParentCommand
        BenchCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--tiles", defaultValue = "10000")
        long tiles;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Path dir = parent.main.home().dir("bench").resolve("survey-" + tiles);
            try (FileObjectStore store = new FileObjectStore(dir)) {
                SurveyGenerator.Summary s = SurveyRuns.generate(SurveySpec.of(tiles, 256, 7), store, true,
                        Runtime.getRuntime().availableProcessors(), parent.main.progress());
                out.printf("%-28s %12s%n", "measure", "value");
                out.printf("%-28s %,12d%n", "tiles (256 px JPEG)", s.images());
                out.printf("%-28s %12.1f%n", "seconds", s.elapsed().toMillis() / 1000.0);
                out.printf("%-28s %12.0f%n", "tiles/s", s.tilesPerSecond());
                out.printf("%-28s %12d%n", "cores", Runtime.getRuntime().availableProcessors());
            }
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train the small CNN on a fresh 2,000-tile survey (target: >= 90%% validation accuracy in under 3 minutes).")
    static final class Train implements Callable<Integer> {
        @ParentCommand
        BenchCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--tiles", defaultValue = "2000")
        long tiles;
        @Option(names = "--epochs", defaultValue = "8")
        int epochs;
        @Option(names = "--model", defaultValue = "small-cnn")
        String model;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Path dir = parent.main.home().dir("bench").resolve("train-survey-" + tiles);
            try (FileObjectStore store = new FileObjectStore(dir)) {
                SurveyRuns.generate(SurveySpec.of(tiles, 256, 11), store, true, Runtime.getRuntime().availableProcessors(), ProgressListener.NONE);
            }
            Map<String, Object> c = TrainConfig.defaults(dir.toUri().toString()).toMap();
            c.put("model", model);
            c.remove("input_size");
            c.put("epochs", epochs);
            long t0 = System.nanoTime();
            double best = 0, firstOver90 = -1;
            long images = 0;
            double trainSeconds = 0;
            try (TileClassifierTrainable t = new TileClassifierTrainable()) {
                t.setup(c);
                out.printf("%s on %,d tiles (%d train / %d validation), %d epochs%n", model, tiles, t.trainSize(), t.valSize(), epochs);
                out.printf("%5s %10s %10s %10s %10s %10s%n", "epoch", "train_loss", "val_acc", "macro_f1", "img/s", "elapsed_s");
                for (int e = 0; e < epochs; e++) {
                    Trainable.StepResult r = t.step();
                    double elapsed = (System.nanoTime() - t0) / 1e9;
                    images += t.trainSize();
                    trainSeconds += r.metric("epoch_seconds");
                    best = Math.max(best, r.metric("val_accuracy"));
                    if (firstOver90 < 0 && r.metric("val_accuracy") >= 0.90) firstOver90 = elapsed;
                    out.printf("%5d %10.4f %10.3f %10.3f %10.0f %10.1f%n", r.iteration(), r.metric("train_loss"), r.metric("val_accuracy"),
                            r.metric("val_macro_f1"), r.metric("images_per_second"), elapsed);
                }
            }
            double total = (System.nanoTime() - t0) / 1e9;
            out.printf("%nbest val_acc %.3f; reached 90%% after %s; total %.1f s (incl. engine start); %.0f train img/s over the run%n",
                    best, firstOver90 < 0 ? "never" : String.format("%.1f s", firstOver90), total, images / trainSeconds);
            out.printf("target (>= 0.90 within 180 s): %s%n", firstOver90 >= 0 && firstOver90 <= 180 ? "MET" : "NOT MET");
            return 0;
        }
    }
}
