package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.ExecutorResources;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.TilePipeline;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.spark.SparkSessions;
import dev.canopy.spark.SparkShardRunner;
import dev.canopy.storage.FileObjectStore;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** Peak memory of batch inference over manifests of growing size (images reused with --distinct). */
@Command(name = "infer-memory", mixinStandardHelpOptions = true,
        description = {"Peak heap (after full GCs) and peak resident memory of batch inference for manifests of 10,000 and 1,000,000 rows "
                + "(reusing 500 distinct 64 px images), each in a fresh JVM with a 600 MB heap; fails unless both stay within 15%% of each other.",
                "Large tiles: canopy bench infer-memory --heap 512m --rows 2000 --tile-size 4096 --distinct 8"})
final class BenchInferMemory implements Callable<Integer> {
    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--rows", defaultValue = "10000,1000000", split = ",", description = "Manifest sizes (default: ${DEFAULT-VALUE})")
    List<Long> rows;
    @Option(names = "--rows-per-shard", defaultValue = "0", description = "Rows per shard: 0 = sized by time as canopy infer does, so "
            + "larger jobs get larger shards (default: ${DEFAULT-VALUE})")
    int rowsPerShard;
    @Option(names = "--distinct", defaultValue = "500", description = "Distinct images the manifest rows reuse (default: ${DEFAULT-VALUE})")
    long distinct;
    @Option(names = "--tile-size", defaultValue = "64", description = "Tile size in pixels, up to 4096 (default: ${DEFAULT-VALUE})")
    int tileSize;
    @Option(names = "--heap", defaultValue = "600m", description = "Heap of each measured JVM, -Xmx and -Xms (default: ${DEFAULT-VALUE})")
    String heap;
    @Option(names = "--tolerance", defaultValue = "0.15", description = "Largest relative difference allowed between the sizes' peaks (default: ${DEFAULT-VALUE})")
    double tolerance;
    @Option(names = "--in-process", description = "Measure in this JVM instead of one fresh JVM per size (resident memory then accumulates)")
    boolean inProcess;
    @Option(names = "--engine", defaultValue = "auto", description = "Inference engine: auto, pytorch or onnx (default: ${DEFAULT-VALUE})")
    String engine;
    @Option(names = "--report", hidden = true, description = "Internal: the child JVM writes its measurement here")
    Path report;

    /** One size's measurement. */
    record Measured(long rows, long ok, long errors, double seconds, long liveHeapMb, long peakHeapMb, long maxHeapMb, long residentPeakMb) { }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (rowsPerShard < 0) throw new UsageException("--rows-per-shard must be 0 (sized by time) or a positive row count, not " + rowsPerShard,
                "pass --rows-per-shard 0 or, say, --rows-per-shard 5000");
        if (report != null || inProcess) {
            List<Measured> all = new ArrayList<>();
            for (long n : rows) all.add(measure(n, out));
            if (report != null) java.nio.file.Files.write(report, dev.canopy.api.Json.MAPPER.writeValueAsBytes(all));
            else return verdict(all, out);
            return 0;
        }
        // one fresh JVM per size, with the same fixed heap: a process's resident peak is its own, not the sum of earlier runs;
        // surveys are generated and the model registered and its engine chosen here, so that the measured JVMs only run the job
        String chosen = InferCommand.engine(parent.main, model().openPackage(model().resolve(MODEL)), engine).id();
        for (long n : rows) survey(n, out);
        List<Measured> all = new ArrayList<>();
        for (long n : rows) {
            Path file = java.nio.file.Files.createTempFile("canopy-memory", ".json");
            try {
                List<String> args = new ArrayList<>(List.of("bench", "infer-memory", "--rows", Long.toString(n), "--distinct", Long.toString(distinct),
                        "--tile-size", Integer.toString(tileSize), "--engine", chosen, "--rows-per-shard", Integer.toString(rowsPerShard),
                        "--report", file.toString()));
                List<String> cmd = dev.canopy.control.DriverCommand.sameJvm(List.of("-Xmx" + heap, "-Xms" + heap, "-XX:+AlwaysPreTouch"), null)
                        .command("bench-memory-" + n, parent.main.home().root(), args);
                out.printf("measuring %,d rows in a fresh JVM with -Xmx%s -Xms%s%n", n, heap, heap);
                out.flush();
                Process p = new ProcessBuilder(cmd).inheritIO().start();
                try {
                    int rc = p.waitFor();
                    if (rc != 0) throw new UsageException("the measuring JVM for " + n + " rows exited with " + rc, "see its output above");
                } finally {
                    if (p.isAlive()) p.destroyForcibly(); // interrupted: leave no measuring JVM behind
                }
                all.addAll(dev.canopy.api.Json.MAPPER.readValue(java.nio.file.Files.readAllBytes(file),
                        new com.fasterxml.jackson.core.type.TypeReference<List<Measured>>() { }));
            } finally {
                java.nio.file.Files.deleteIfExists(file);
            }
        }
        return verdict(all, out);
    }

    /** The table, and whether the largest and smallest runs' peaks are within the tolerance of each other. */
    private int verdict(List<Measured> all, PrintWriter out) {
        out.printf("%nrows per shard: %s (--rows-per-shard)", rowsPerShard == 0 ? "sized by time" : String.format("%,d", rowsPerShard));
        out.printf("%n%12s %10s %8s %10s %22s %20s %20s%n", "rows", "ok", "errors", "tiles/s", "peak heap after full GC", "peak incl. garbage", "peak resident");
        for (Measured m : all) {
            out.printf("%,12d %,10d %,8d %10.0f %19d MB %17d MB %17d MB%n", m.rows(), m.ok(), m.errors(), m.ok() / Math.max(1e-9, m.seconds()),
                    m.liveHeapMb(), m.peakHeapMb(), m.residentPeakMb());
        }
        if (all.size() < 2) return 0;
        Measured small = all.get(0), large = all.get(all.size() - 1);
        double heapRatio = large.liveHeapMb() / (double) Math.max(1, small.liveHeapMb());
        double rssRatio = large.residentPeakMb() / (double) Math.max(1, small.residentPeakMb());
        boolean ok = Math.abs(heapRatio - 1) <= tolerance && Math.abs(rssRatio - 1) <= tolerance;
        out.printf("%n%,d vs %,d rows: peak heap after GC x%.2f, peak resident x%.2f (allowed: within +-%.0f%%): %s%n", large.rows(), small.rows(),
                heapRatio, rssRatio, 100 * tolerance, ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }

    static final String MODEL = "memory-cnn";

    /** The bench registry, holding the small CNN the runs use (registered once). */
    private ModelRegistry model() {
        Path bench = parent.main.home().dir("bench");
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(bench.resolve("registry")), bench.resolve("cache"), Clock.systemUTC());
        if (!registry.names().contains(MODEL)) {
            ModelCard card = new ModelCard(MODEL, ModelCard.FORMAT_DJL, "small-cnn", 64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                    LandCover.labels(), Map.of(), null);
            registry.register(MODEL, card, Architecture.SMALL_CNN.initialWeights(5, 64, 1));
        }
        return registry;
    }

    private Path survey(long n, PrintWriter out) {
        Path survey = parent.main.home().dir("bench").resolve("memory-survey-" + n + "-rg" + (ManifestWriter.DEFAULT_ROW_GROUP_BYTES >> 10) + "k" + (tileSize == 64 ? "" : "-" + tileSize + "px-" + distinct));
        try (FileObjectStore s = new FileObjectStore(survey)) {
            if (!s.exists("survey.json")) {
                out.printf("generating a %,d-row manifest over %d distinct images of %d px%n", n, distinct, tileSize);
                SurveyRuns.generate(SurveySpec.of(n, tileSize, 4).withDistinct(distinct), s, true, Runtime.getRuntime().availableProcessors(),
                        parent.main.progress());
            }
        }
        return survey;
    }

    private Measured measure(long n, PrintWriter out) throws Exception {
        Path bench = parent.main.home().dir("bench");
        ModelRegistry registry = model();
        ModelRegistry.Version v = registry.resolve(MODEL);
        ModelCard card = v.card();
        Path survey = survey(n, out);
        String chosen = report != null ? engine : InferCommand.engine(parent.main, registry.openPackage(v), engine).id();
        SparkSession spark = SparkSessions.create(null, "canopy-bench-memory", List.of());
        LiveHeapProbe live = null;
        try {
            System.gc();
            for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) p.resetPeakUsage();
            // what stays alive matters, not garbage waiting for a lazy collector: a full collection every 2 seconds, and the heap
            // in use at its end as the collector reports it (LiveHeapProbe says why not the heap usage read after System.gc())
            live = new LiveHeapProbe();
            java.util.concurrent.atomic.AtomicLong maxRss = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.ScheduledExecutorService sampler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
            sampler.scheduleAtFixedRate(System::gc, 1, 2, java.util.concurrent.TimeUnit.SECONDS); // often enough that a 10-second run is sampled too
            sampler.scheduleAtFixedRate(() -> maxRss.accumulateAndGet(residentKb("VmRSS:"), Math::max), 0, 500, java.util.concurrent.TimeUnit.MILLISECONDS);
            InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v),
                    v.ref(), null, bench.resolve("memory-out").toUri().toString(), 1, 32, 5_000, Runtime.getRuntime().availableProcessors(),
                    TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES).withEngine(chosen);
            BatchInference.Summary s = BatchInference.run(job, card, null, BatchInference.Options.defaults().withOverwrite(true).withRowsPerShard(rowsPerShard),
                    new SparkShardRunner(spark), parent.main.progress());
            sampler.shutdownNow();
            sampler.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
            live.collectNow(); // a job shorter than the first sample still reports
            if (live.fullCollections() == 0) {
                throw new UsageException("no full garbage collection was reported while measuring, so there is no live-heap figure",
                        "run with a collector whose System.gc() is a full collection (G1 or Parallel, without -XX:+ExplicitGCInvokesConcurrent)");
            }
            if (Boolean.getBoolean("canopy.bench.memorySamples")) {
                out.println("live heap after each full GC (MB): " + live.samples().stream().map(b -> Long.toString(b >> 20)).toList());
            }
            long peakHeap = ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getType() == MemoryType.HEAP)
                    .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
            Measured m = new Measured(s.rows(), s.ok(), s.errors(), s.seconds(), live.maxLiveBytes() >> 20, peakHeap >> 20,
                    Runtime.getRuntime().maxMemory() >> 20, (report != null ? residentKb("VmHWM:") : Math.max(maxRss.get(), residentKb("VmRSS:"))) >> 10);
            out.printf("%,12d rows of %d px: %,d ok, %,d errors in %.0f s; peak heap after full GC %,d MB (incl. garbage %,d MB) of %,d MB; "
                    + "peak resident %,d MB%n", m.rows(), tileSize, m.ok(), m.errors(), m.seconds(), m.liveHeapMb(), m.peakHeapMb(), m.maxHeapMb(),
                    m.residentPeakMb());
            return m;
        } finally {
            if (live != null) live.close();
            spark.stop();
            ExecutorResources.reset();
        }
    }

    /**
     * A resident-memory line of this process in kB ({@code VmRSS:} now, {@code VmHWM:} the peak since the process started), 0 where
     * /proc is missing.
     */
    private static long residentKb(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) if (l.startsWith(field)) return Long.parseLong(l.replaceAll("\\D", ""));
        } catch (Exception e) {
            // not Linux: no resident figure
        }
        return 0;
    }
}
