package dev.canopy.cli;

import dev.canopy.api.train.Trainable;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.train.TileClassifierTrainable;
import dev.canopy.train.TrainConfig;
import dev.canopy.train.TrainingRun;
import java.io.PrintWriter;
import java.net.URI;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a land-cover classifier on a survey; checkpoints every epoch, registers the result.")
final class TrainCommand implements Callable<Integer> {
    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--survey", description = "Survey root (path, file:// or s3://)")
    String survey;
    @Option(names = "--model", defaultValue = TrainConfig.DEFAULT_ARCHITECTURE, description = "small-cnn or resnet18 (default: ${DEFAULT-VALUE})")
    String model;
    @Option(names = "--epochs", defaultValue = "" + TrainConfig.DEFAULT_EPOCHS, description = "Epochs (default: ${DEFAULT-VALUE})")
    int epochs;
    @Option(names = "--batch-size", defaultValue = "" + TrainConfig.DEFAULT_BATCH_SIZE, description = "Batch size (default: ${DEFAULT-VALUE})")
    int batchSize;
    @Option(names = "--lr", defaultValue = "" + TrainConfig.DEFAULT_LEARNING_RATE, description = "Adam learning rate (default: ${DEFAULT-VALUE})")
    double lr;
    @Option(names = "--schedule", defaultValue = TrainConfig.DEFAULT_LR_SCHEDULE, description = "constant, cosine or step (default: ${DEFAULT-VALUE})")
    String schedule;
    @Option(names = "--input-size", description = "Input edge in pixels (default: 64 for small-cnn, 224 for resnet18)")
    Integer inputSize;
    @Option(names = "--seed", defaultValue = "" + TrainConfig.DEFAULT_SEED, description = "Seed (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--val-percent", defaultValue = "" + TrainConfig.DEFAULT_VAL_PERCENT, description = "Validation share, by tile-id hash (default: ${DEFAULT-VALUE})")
    int valPercent;
    @Option(names = "--no-augment", description = "Turn off flips, rotations and brightness jitter")
    boolean noAugment;
    @Option(names = "--max-tiles", defaultValue = "0", description = "Use at most N tiles (0: all)")
    int maxTiles;
    @Option(names = "--name", defaultValue = "land-cover", description = "Registry name of the trained model (default: ${DEFAULT-VALUE})")
    String name;
    @Option(names = "--no-register", description = "Do not register the trained model")
    boolean noRegister;
    @Option(names = "--run", description = "Run folder for config, metrics and checkpoints (default: HOME/runs/train-TIMESTAMP)")
    String run;
    @Option(names = "--master", description = "Train on this Spark master, as one task on one executor (e.g. spark://host:7077); default: in this process")
    String master;
    @Option(names = "--cluster", description = "Train on this Canopy cluster (see 'canopy cluster list') instead of --master")
    String cluster;
    @Option(names = "--workers", defaultValue = "1", description = "Data-parallel workers: Spark tasks started together (barrier mode), each "
            + "taking a slice of every batch, gradients summed by a ring all-reduce every step; on this machine's Spark unless --cluster or "
            + "--master (default: ${DEFAULT-VALUE}, in this process)")
    int workers;
    @Option(names = "--resume", description = "Continue the run in this folder from its latest checkpoint")
    String resume;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        S3Settings s3 = S3Settings.fromEnvironment();
        String where = ClusterCommand.master(main, cluster, master); // checked before a run folder is made
        TrainingRun trainingRun;
        if (resume != null) {
            trainingRun = TrainingRun.open(ObjectStores.toUri(resume), s3);
            out.printf("resuming %s from epoch %d%n", trainingRun.uri(), trainingRun.latestEpoch());
        } else {
            if (survey == null) throw new UsageException("--survey is required (or --resume RUN)", "e.g. canopy train --survey ./canopy-data/surveys/demo");
            Map<String, Object> c = TrainConfig.defaults(survey).toMap();
            c.put("survey", ObjectStores.toUri(survey).toString());
            c.put("model", model);
            if (inputSize != null) c.put("input_size", inputSize);
            c.put("epochs", epochs);
            c.put("batch_size", batchSize);
            c.put("learning_rate", lr);
            c.put("lr_schedule", schedule);
            c.put("seed", seed);
            c.put("val_percent", valPercent);
            c.put("augment", !noAugment);
            c.put("max_tiles", maxTiles);
            c.put("workers", workers);
            if (inputSize == null) c.remove("input_size");
            TrainConfig config = TrainConfig.fromMap(c);
            URI runUri = run != null ? ObjectStores.toUri(run)
                    : main.home().runs().resolve("train-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))).toUri();
            trainingRun = TrainingRun.create(runUri, config, s3);
            out.printf("run %s (resume with: canopy train --resume %s)%n", runUri, runUri);
            out.printf("log %s%n", main.jobLog(runUri, "train"));
        }
        int ranks = trainingRun.config().workers(); // a resumed run keeps its own: its result depends on it
        if (resume != null && spec.commandLine().getParseResult().hasMatchedOption("--workers") && workers != ranks) {
            throw new UsageException("run " + trainingRun.uri() + " was started with --workers " + ranks + " and resumes with them",
                    "leave out --workers, or start a new run");
        }
        // the same number of task slots as ranks on this machine's engine (Spark starts a barrier stage only when all fit)
        if (where == null && ranks > 1) where = dev.canopy.spark.SparkSessions.localWithSlots(ranks);
        if (where != null) return onSpark(out, trainingRun, where);
        ModelRegistry.Version v = trainAndRegister(main, out, trainingRun, noRegister ? null : name);
        if (v != null) out.printf("registered %s (stage %s)%n", v.ref(), v.stage());
        return 0;
    }

    /** The same run as one Spark task on {@code master}; epochs are reported from the run folder as the executor writes them. */
    private int onSpark(PrintWriter out, TrainingRun run, String where) {
        int ranks = run.config().workers();
        out.printf("training on %s (%s; the run folder and the registry must be reachable from its executors)%n", where,
                ranks == 1 ? "one task" : ranks + " tasks in a barrier stage, one per data-parallel rank, global batch " + run.config().batchSize());
        if (ranks > 1 && where.startsWith("local")) {
            out.printf("note: ranks in one process take turns in the engine; this shows the distributed run, it is not faster than --workers 1 here%n");
        }
        java.util.concurrent.ScheduledExecutorService watcher = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "canopy-train-watch");
            t.setDaemon(true);
            return t;
        });
        int[] reported = {run.latestEpoch()};
        watcher.scheduleWithFixedDelay(() -> {
            try {
                int e = TrainingRun.open(run.uri(), S3Settings.fromEnvironment()).latestEpoch();
                while (reported[0] < e) { // each epoch once, in order, also when several ended between two looks
                    reported[0]++;
                    out.printf("epoch %d/%d done (checkpoint written)%n", reported[0], run.config().epochs());
                    out.flush();
                }
            } catch (RuntimeException ignored) {
                // the folder is being written: the next look sees it
            }
        }, 1, 1, java.util.concurrent.TimeUnit.SECONDS);
        org.apache.spark.sql.SparkSession spark = dev.canopy.spark.SparkSessions.create(where, "canopy-train", java.util.List.of());
        String app = spark.sparkContext().applicationId();
        try {
            dev.canopy.spark.SparkTraining.Outcome o = dev.canopy.spark.SparkTraining.run(spark, run.uri(), ranks, main.registry().store().root(),
                    main.home().cache().resolve("models"), noRegister ? null : name);
            watcher.shutdownNow();
            try {
                watcher.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS); // a look in progress finishes first
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // epochs the watcher had not seen yet (the last one, at least)
            for (int e = reported[0] + 1; e <= o.epochs(); e++) out.printf("epoch %d/%d done (checkpoint written)%n", e, run.config().epochs());
            Map<String, Double> m = o.metrics();
            out.printf("trained %s for %d epochs on %s: val_acc %.3f, macro_f1 %.3f%n", run.config().architecture(), o.epochs(), o.executor(),
                    m.getOrDefault("val_accuracy", Double.NaN), m.getOrDefault("val_macro_f1", Double.NaN));
            if (o.registered() != null) out.printf("registered %s%n", o.registered());
            return 0;
        } catch (Exception e) { // SparkException (an aborted job) is a checked exception that Scala throws unchecked
            try {
                run.markFailed(String.valueOf(e.getMessage()));
            } catch (RuntimeException x) {
                e.addSuppressed(x); // the store may be what failed: the job's own error comes first
            }
            throw e;
        } finally {
            watcher.shutdownNow();
            spark.stop();
            if (cluster != null) {
                java.nio.file.Path logs = "file".equals(run.uri().getScheme()) ? java.nio.file.Path.of(run.uri()).resolve("_logs") : main.home().logs();
                InferCommand.collectExecutorLogs(main, cluster, app, logs.resolve("executors-" + app));
            }
        }
    }

    /** Shared with {@code demo}: runs the training with a progress bar and per-epoch lines, registers if named. */
    static ModelRegistry.Version trainAndRegister(Main main, PrintWriter out, TrainingRun run, String registerAs) {
        ConsoleProgress bar = main.progress();
        TrainConfig config = run.config();
        int[] epoch = {run.latestEpoch() + 1};
        long[] lastTotal = {-1};
        long[] lastDone = {0};
        TileClassifierTrainable.ProgressSink sink = (phase, done, total, loss) -> {
            if (total != lastTotal[0] || done < lastDone[0]) {
                bar.start(String.format("epoch %d/%d %s", epoch[0], config.epochs(), phase), total);
                lastTotal[0] = total;
                lastDone[0] = 0;
            }
            bar.advance(done - lastDone[0]);
            lastDone[0] = done;
            bar.message(String.format("loss %.3f", loss));
        };
        try (TileClassifierTrainable t = run.execute((Trainable.StepResult r, int epochs) -> {
            bar.finish();
            lastTotal[0] = -1;
            Map<String, Double> m = r.metrics();
            out.printf("epoch %d/%d  train_loss %.4f  train_acc %.3f  val_loss %.4f  val_acc %.3f  macro_f1 %.3f  %.0f img/s  %.1f s%s%n",
                    r.iteration(), epochs, m.get("train_loss"), m.get("train_accuracy"), m.get("val_loss"), m.get("val_accuracy"),
                    m.get("val_macro_f1"), m.get("images_per_second"), m.get("epoch_seconds"),
                    m.get("skipped_tiles") > 0 ? String.format("  (%d bad tiles skipped)", m.get("skipped_tiles").intValue()) : "");
            epoch[0] = r.iteration() + 1;
        }, sink)) {
            bar.finish();
            out.printf("trained %s on %d tiles (%d validation), seed %d%n", config.architecture(), t.trainSize(), t.valSize(), config.seed());
            return registerAs == null ? null : TrainingRun.register(main.registry(), registerAs, t);
        }
    }
}
