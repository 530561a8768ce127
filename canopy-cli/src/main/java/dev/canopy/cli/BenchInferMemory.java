package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.ExecutorResources;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.TilePipeline;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
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
        description = {"Peak heap and resident memory of batch inference for manifests of 10,000 and 1,000,000 rows (reusing 500 distinct 64 px images).",
                "Large tiles: CANOPY_JAVA_OPTS=-Xmx512m canopy bench infer-memory --rows 2000 --tile-size 4096 --distinct 8"})
final class BenchInferMemory implements Callable<Integer> {
    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--rows", defaultValue = "10000,1000000", split = ",", description = "Manifest sizes (default: ${DEFAULT-VALUE})")
    List<Long> rows;
    @Option(names = "--distinct", defaultValue = "500", description = "Distinct images the manifest rows reuse (default: ${DEFAULT-VALUE})")
    long distinct;
    @Option(names = "--tile-size", defaultValue = "64", description = "Tile size in pixels, up to 4096 (default: ${DEFAULT-VALUE})")
    int tileSize;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path bench = parent.main.home().dir("bench");
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(bench.resolve("registry")), bench.resolve("cache"), Clock.systemUTC());
        ModelCard card = new ModelCard("memory-cnn", ModelCard.FORMAT_DJL, "small-cnn", 64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        ModelRegistry.Version v = registry.register("memory-cnn", card, Architecture.SMALL_CNN.initialWeights(5, 64, 1));
        List<String> lines = new ArrayList<>();
        SparkSession spark = SparkSessions.create(null, "canopy-bench-memory", List.of());
        try {
            for (long n : rows) {
                Path survey = bench.resolve("memory-survey-" + n + (tileSize == 64 ? "" : "-" + tileSize + "px-" + distinct));
                try (FileObjectStore s = new FileObjectStore(survey)) {
                    if (!s.exists("survey.json")) {
                        out.printf("generating a %,d-row manifest over %d distinct images of %d px%n", n, distinct, tileSize);
                        SurveyRuns.generate(SurveySpec.of(n, tileSize, 4).withDistinct(distinct), s, true, Runtime.getRuntime().availableProcessors(),
                                parent.main.progress());
                    }
                }
                System.gc();
                for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) p.resetPeakUsage();
                // what stays alive matters, not garbage waiting for a lazy collector: sample heap usage right after each GC
                java.util.concurrent.atomic.AtomicLong maxLive = new java.util.concurrent.atomic.AtomicLong();
                java.util.concurrent.ScheduledExecutorService sampler = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
                sampler.scheduleAtFixedRate(() -> maxLive.accumulateAndGet(liveAfterGc(), Math::max), 0, 200, java.util.concurrent.TimeUnit.MILLISECONDS);
                InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v),
                        v.ref(), null, bench.resolve("memory-out").toUri().toString(), 1, 32, 5_000, Runtime.getRuntime().availableProcessors(),
                        TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
                BatchInference.Summary s = BatchInference.run(job, card, null, BatchInference.Options.defaults().withOverwrite(true),
                        new SparkShardRunner(spark), parent.main.progress());
                sampler.shutdownNow();
                long peakHeap = ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getType() == MemoryType.HEAP)
                        .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
                String line = String.format("%,12d rows of %d px: %,d ok, %,d errors in %.0f s (%.0f/s); max live heap after GC %,d MB "
                                + "(peak incl. garbage %,d MB) of a %,d MB heap; resident %s", s.rows(), tileSize, s.ok(), s.errors(), s.seconds(),
                        s.ok() / Math.max(1e-9, s.seconds()), maxLive.get() >> 20, peakHeap >> 20, Runtime.getRuntime().maxMemory() >> 20, residentMb());
                out.println(line);
                lines.add(line);
            }
        } finally {
            spark.stop();
            ExecutorResources.reset();
        }
        out.println();
        lines.forEach(out::println);
        return 0;
    }

    /** Heap in use just after the most recent collection of each pool. */
    private static long liveAfterGc() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getCollectionUsage() != null) sum += p.getCollectionUsage().getUsed();
        }
        return sum;
    }

    private static String residentMb() {
        try {
            String rss = "", hwm = "";
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) rss = l.replaceAll("\\D", "");
                if (l.startsWith("VmHWM:")) hwm = l.replaceAll("\\D", "");
            }
            return String.format("%,d MB now, %,d MB high-water", Long.parseLong(rss) >> 10, Long.parseLong(hwm) >> 10);
        } catch (Exception e) {
            return "n/a";
        }
    }
}
