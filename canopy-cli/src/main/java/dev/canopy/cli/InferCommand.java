package dev.canopy.cli;

import dev.canopy.api.BoundingBox;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.ShardRunner;
import dev.canopy.batch.TilePipeline;
import dev.canopy.imagery.Area;
import dev.canopy.model.EngineChoice;
import dev.canopy.model.InferenceEngine;
import dev.canopy.model.ModelPackage;
import dev.canopy.model.ModelRegistry;
import dev.canopy.spark.SparkSessions;
import dev.canopy.spark.SparkShardRunner;
import dev.canopy.storage.ObjectStores;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "infer", mixinStandardHelpOptions = true,
        description = "Batch inference on Spark: a model's predictions over a survey (or an area of it) as GeoParquet shards.")
final class InferCommand implements Callable<Integer> {
    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "NAME, NAME:VERSION or NAME@STAGE from the registry")
    String model;

    static final class Input {
        @Option(names = "--survey", required = true, description = "Survey root (path, file:// or s3://)")
        String survey;
        @Option(names = "--manifest", required = true, description = "A manifest folder, e.g. written by 'canopy survey select'")
        String manifest;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;
    @Option(names = "--area", description = "GeoJSON area: only tiles intersecting it")
    Path area;
    @Option(names = "--out", required = true, description = "Output folder (path, file:// or s3://)")
    String out;
    @Option(names = "--master", description = "Spark master (default: local[*]; e.g. spark://host:7077)")
    String master;
    @Option(names = "--cluster", description = "Run on this Canopy cluster (see 'canopy cluster list') instead of --master")
    String cluster;
    @Option(names = "--replicas", defaultValue = "1", description = "Model replicas per executor (default: ${DEFAULT-VALUE})")
    int replicas;
    @Option(names = "--max-batch", defaultValue = "32", description = "Largest batch (default: ${DEFAULT-VALUE})")
    int maxBatch;
    @Option(names = "--max-wait-ms", defaultValue = "5", description = "Longest wait to fill a batch (default: ${DEFAULT-VALUE})")
    long maxWaitMs;
    @Option(names = "--decode-threads", description = "Decoding threads per executor (default: cores)")
    Integer decodeThreads;
    @Option(names = "--rows-per-shard", description = "Rows per output shard (default: sized so that a shard takes about a minute, "
            + "from a short calibration run; a resumed job keeps its recorded plan)")
    Integer rowsPerShard;
    @Option(names = "--max-error-fraction", defaultValue = "" + BatchInference.DEFAULT_MAX_ERROR_FRACTION,
            description = "Fail the job if more tiles than this fail (default: ${DEFAULT-VALUE})")
    double maxErrorFraction;
    @Option(names = "--dry-run", description = "Print the plan (tiles, shards, bytes, estimated time here and on --workers machines) "
            + "after a short calibration run; predicts and writes nothing")
    boolean dryRun;
    @Option(names = "--workers", defaultValue = "8", description = "Cluster size for the --dry-run estimate (default: ${DEFAULT-VALUE})")
    int workers;
    @Option(names = "--overwrite", description = "Replace an earlier job's output")
    boolean overwrite;
    @Option(names = "--resume", description = "Continue an interrupted job, skipping committed shards")
    boolean resume;
    @Option(names = "--engine", defaultValue = "auto", description = "Inference engine: auto (the faster on this host, measured once per "
            + "kind of model), pytorch or onnx (default: ${DEFAULT-VALUE})")
    String engine;

    @Override
    public Integer call() throws Exception {
        if (overwrite && resume) throw new UsageException("--overwrite and --resume contradict each other", "choose one");
        ModelRegistry registry = main.registry();
        ModelRegistry.Version v = registry.resolve(model);
        String surveyRoot = ObjectStores.toUri(input.survey != null ? input.survey : input.manifest).toString();
        Area a = null;
        if (area != null) {
            if (!Files.isRegularFile(area)) throw new UsageException("area file not found: " + area, "give a GeoJSON file with --area");
            a = Area.parse(Files.readString(area));
        }
        InferenceJobSpec job = new InferenceJobSpec(surveyRoot, registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                a == null ? null : a.geometry().toText(), ObjectStores.toUri(out).toString(), replicas, maxBatch, maxWaitMs * 1000,
                decodeThreads == null ? Runtime.getRuntime().availableProcessors() : decodeThreads, TilePipeline.DEFAULT_MAX_IN_FLIGHT,
                TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
        BatchInference.Options options = BatchInference.Options.defaults().withOverwrite(overwrite).withResume(resume)
                .withRowsPerShard(rowsPerShard == null ? 0 : rowsPerShard).withMaxErrorFraction(maxErrorFraction);
        if (dryRun) {
            printPlan(spec.commandLine().getOut(), BatchInference.plan(job, a == null ? null : a.bbox(), options, Runtime.getRuntime().availableProcessors()),
                    workers);
            return 0;
        }
        // the driver chooses for the whole job (its host stands for the executors'): every executor runs the same engine
        job = job.withEngine(engine(main, registry.openPackage(v), engine).id());
        BatchInference.Summary s = run(main, job, v, a == null ? null : a.bbox(), options, ClusterCommand.master(main, cluster, master), cluster);
        print(spec.commandLine().getOut(), s);
        return 0;
    }

    /** The concrete engine for a job: resolved here, in the driver, so that every executor runs the same one. */
    static InferenceEngine engine(Main main, ModelPackage pkg, String requested) {
        InferenceEngine e = new EngineChoice(main.home().dir("engines"), java.time.Clock.systemUTC())
                .resolve(pkg, InferenceEngine.of(requested), main.progress()::println);
        main.progress().println("engine " + e.id() + (InferenceEngine.of(requested) == InferenceEngine.AUTO ? " (auto)" : ""));
        return e;
    }

    static BatchInference.Summary run(Main main, InferenceJobSpec job, ModelRegistry.Version v, BoundingBox box, BatchInference.Options options,
                                      String master) {
        return run(main, job, v, box, options, master, null);
    }

    /** Set by a warm driver for its life: infer runs in that application instead of starting one. */
    static volatile SparkSession WARM_SESSION;

    /** On a Canopy cluster ({@code cluster} named), the executors' logs are gathered beside the driver's once the job ends. */
    static BatchInference.Summary run(Main main, InferenceJobSpec job, ModelRegistry.Version v, BoundingBox box, BatchInference.Options options,
                                      String master, String cluster) {
        java.nio.file.Path log = main.jobLog(java.net.URI.create(job.outputRoot()), "infer");
        main.progress().println("log " + log + " (Spark and library warnings go there)");
        SparkSession warm = WARM_SESSION;
        if (warm != null) {
            // a warm driver's application: its executors hold the bundle (and, once used, the model); the job runs in it as a job group
            main.progress().println("on the warm application " + warm.sparkContext().applicationId() + " (" + warm.sparkContext().master() + ")");
            return BatchInference.run(job, v.card(), box, options, new SparkShardRunner(warm), main.progress());
        }
        SparkSession spark = SparkSessions.create(master, "canopy-infer", List.of());
        String app = spark.sparkContext().applicationId();
        try {
            ShardRunner runner = new SparkShardRunner(spark);
            return BatchInference.run(job, v.card(), box, options, runner, main.progress());
        } finally {
            spark.stop();
            if (cluster != null) collectExecutorLogs(main, cluster, app, log.getParent().resolve("executors-" + app));
        }
    }

    static void collectExecutorLogs(Main main, String cluster, String app, java.nio.file.Path into) {
        try {
            int n = ClusterCommand.provider(main).collectLogs(cluster, app, into);
            main.progress().println("executor logs " + into + " (" + n + " files from the cluster's workers)");
        } catch (RuntimeException e) {
            main.progress().println("executor logs of " + app + " could not be gathered: " + e.getMessage());
        }
    }

    static void printPlan(PrintWriter out, BatchInference.Plan p, int workers) {
        out.printf("tiles       %,d selected of %,d in the survey%n", p.tilesSelected(), p.tilesInSurvey());
        out.printf("shards      %,d of up to %,d rows (about %s each here)%n", p.shards(), p.rowsPerShard(),
                p.calibration().tilesPerSecond() > 0 ? duration(p.rowsPerShard() / (p.calibration().tilesPerSecond()
                        / Runtime.getRuntime().availableProcessors())) : "?");
        out.printf("read        %.1f MB (%.1f KB per tile)%n", p.bytesToRead() / 1e6, p.calibration().meanBytes() / 1e3);
        out.printf("calibrated  %.0f tiles/s on this machine (%d cores), from %,d tiles in %.1f s%n", p.calibration().tilesPerSecond(),
                Runtime.getRuntime().availableProcessors(), p.calibration().tiles(), p.calibration().seconds());
        out.printf("estimate    %s on this machine, %s on %d workers like it%n", duration(p.secondsHere()), duration(p.secondsOn(workers)), workers);
        out.printf("output      %s%s%n", p.output(), p.outputExists() ? " (a job is already there: --resume or --overwrite)" : "");
        out.println("nothing was predicted or written (dry run)");
    }

    static String duration(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) return "?";
        long s = Math.round(seconds);
        if (s < 120) return s + " s";
        if (s < 7200) return String.format("%d min %02d s", s / 60, s % 60);
        return String.format("%d h %02d min", s / 3600, s / 60 % 60);
    }

    /** Mean time per tile in each stage, and how busy the decode threads and model replicas were. */
    static String stageLine(BatchInference.Summary s) {
        Map<String, Double> st = s.stageSeconds();
        return String.format("stages      per tile: fetch %.1f ms (%.1f in flight on average), waiting for a decoder %.1f ms, decode %.1f ms, "
                        + "model %.1f ms (queue + batch); decoders busy %.0f%%, model busy %.0f%%%n",
                st.get("fetch_ms_mean"), st.get("fetches_in_flight_mean"), st.get("decode_queue_ms_mean"), st.get("decode_ms_mean"),
                st.get("model_ms_mean"), 100 * st.get("decode_busy_fraction"), 100 * s.modelBusyFraction());
    }

    static void print(PrintWriter out, BatchInference.Summary s) {
        out.printf("output      %s (GeoParquet shards under shards/, summary.json)%n", s.output());
        out.printf("model       %s%n", s.model());
        out.printf("tiles       %,d (%,d ok, %,d errors) in %d shards (%d already committed)%n", s.rows(), s.ok(), s.errors(), s.shards(), s.shardsSkipped());
        out.printf("speed       %.0f tiles/s over %.1f s, %.1f MB read, on %s%n", s.imagesPerSecond(), s.seconds(), s.bytesRead() / 1e6, s.runner());
        out.print(stageLine(s));
        out.print("est. cover  ");
        for (Map.Entry<String, Double> e : s.estimatedCover().entrySet()) out.printf("%s %.1f%%  ", e.getKey(), 100 * e.getValue());
        out.println();
    }
}
