package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.ExecutorResources;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.InferencePlanner;
import dev.canopy.batch.ShardReport;
import dev.canopy.batch.ShardRunner;
import dev.canopy.batch.ShardSpec;
import dev.canopy.batch.TilePipeline;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
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
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "scale", mixinStandardHelpOptions = true,
        description = {"The big end of batch inference: plan time and driver heap for 10 thousand, 1 million and 100 million rows "
                + "(an index over repeated real parts), then a real job: throughput, time to first progress and to first commit.",
                "Driver heap limit: CANOPY_JAVA_OPTS=-Xmx512m canopy bench scale"})
final class BenchScale implements Callable<Integer> {
    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--plan-rows", defaultValue = "10000,1000000,100000000", split = ",", description = "Manifest sizes to plan (default: ${DEFAULT-VALUE})")
    List<Long> planRows;
    @Option(names = "--job-rows", defaultValue = "1000000", description = "Rows of the real job; 0 to skip it (default: ${DEFAULT-VALUE})")
    long jobRows;
    @Option(names = "--distinct", defaultValue = "200", description = "Distinct 64 px images the job's rows reuse (default: ${DEFAULT-VALUE})")
    long distinct;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path bench = parent.main.home().dir("bench");
        Path base = bench.resolve("scale-base-" + distinct);
        try (FileObjectStore s = new FileObjectStore(base)) {
            if (!s.exists("survey.json")) {
                out.printf("generating the base survey: 500,000 rows over %d distinct images%n", distinct);
                SurveyRuns.generate(SurveySpec.of(500_000, 64, 8).withDistinct(distinct), s, true, Runtime.getRuntime().availableProcessors(),
                        parent.main.progress());
            }
        }
        ManifestIndex baseIndex = ManifestIndex.fromJson(Files.readAllBytes(base.resolve(ManifestWriter.INDEX)));
        out.printf("%n%14s %10s %12s %16s%n", "rows", "shards", "plan ms", "driver heap MB");
        for (long n : planRows) {
            Path s = repeated(base, bench.resolve("scale-" + n), baseIndex, n);
            long before = liveHeap();
            long t0 = System.nanoTime();
            List<ShardSpec> plan;
            String digest;
            try (FileObjectStore st = new FileObjectStore(s)) {
                plan = InferencePlanner.plan(Manifest.open(st), null, 30_000);
                digest = InferencePlanner.digest(plan);
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            long after = liveHeap();
            if (digest.isEmpty()) throw new IllegalStateException("no plan digest");
            out.printf("%,14d %,10d %12.0f %16.1f%n", n, plan.size(), ms, Math.max(0, after - before) / 1e6);
        }
        out.printf("(max heap %,d MB; heap measured after a GC, plan held)%n", Runtime.getRuntime().maxMemory() >> 20);
        if (jobRows <= 0) return 0;

        Path survey = repeated(base, bench.resolve("scale-job-" + jobRows), baseIndex, jobRows);
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(bench.resolve("registry")), bench.resolve("cache"), Clock.systemUTC());
        ModelCard card = new ModelCard("scale-cnn", ModelCard.FORMAT_DJL, "small-cnn", 64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        ModelRegistry.Version v = registry.register("scale-cnn", card, Architecture.SMALL_CNN.initialWeights(5, 64, 1));
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                null, bench.resolve("scale-out").toUri().toString(), 1, 32, 5_000, Runtime.getRuntime().availableProcessors(),
                TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
        SparkSession spark = SparkSessions.create(null, "canopy-bench-scale", List.of());
        try {
            long start = System.nanoTime();
            AtomicLong firstProgress = new AtomicLong();
            AtomicLong firstCommit = new AtomicLong();
            ShardRunner timed = new Timed(new SparkShardRunner(spark), start, firstProgress, firstCommit);
            BatchInference.Summary s = BatchInference.run(job, card, null, BatchInference.Options.defaults().withOverwrite(true), timed,
                    parent.main.progress());
            out.printf("%njob of %,d rows (%d distinct 64 px images, Spark %s): %,d ok in %.0f s = %.0f tiles/s; %d shards of up to %s rows%n",
                    s.rows(), distinct, spark.sparkContext().master(), s.ok(), s.seconds(), s.ok() / s.seconds(), s.shards(),
                    dev.canopy.api.Json.MAPPER.readTree(bench.resolve("scale-out/_job.json").toFile()).path("rowsPerShard").asText());
            out.printf("first progress after %.1f s, first commit after %.1f s (target: progress within 10 s)%n", firstProgress.get() / 1e9,
                    firstCommit.get() / 1e9);
        } finally {
            spark.stop();
            ExecutorResources.reset();
        }
        return 0;
    }

    /** A survey folder whose index claims {@code rows} rows over the base survey's parts and tiles (hard links, no copies). */
    static Path repeated(Path base, Path target, ManifestIndex baseIndex, long rows) throws Exception {
        if (!Files.exists(target.resolve(ManifestWriter.INDEX))) {
            Files.createDirectories(target.resolve("manifest"));
            for (ManifestIndex.Part p : baseIndex.parts()) {
                Path link = target.resolve(p.key());
                Files.createDirectories(link.getParent());
                if (!Files.exists(link)) Files.createLink(link, base.resolve(p.key()));
            }
            Path tiles = target.resolve("tiles");
            if (!Files.exists(tiles)) Files.createSymbolicLink(tiles, base.resolve("tiles"));
            Files.write(target.resolve(ManifestWriter.INDEX), baseIndex.repeated(rows).toJson());
        }
        return target;
    }

    private static long liveHeap() {
        System.gc();
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) sum += p.getUsage().getUsed();
        return sum;
    }

    /** Records when the first live progress and the first commit arrive. */
    private record Timed(ShardRunner inner, long start, AtomicLong firstProgress, AtomicLong firstCommit) implements ShardRunner {
        @Override
        public List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Listener listener) {
            return inner.run(shards, job, new Listener() {
                @Override
                public void onShardDone(ShardSpec shard) {
                    firstCommit.compareAndSet(0, System.nanoTime() - start);
                    listener.onShardDone(shard);
                }

                @Override
                public void onProgress(long rows, long errors) {
                    if (rows > 0) firstProgress.compareAndSet(0, System.nanoTime() - start);
                    listener.onProgress(rows, errors);
                }
            });
        }

        @Override public int parallelism() { return inner.parallelism(); }
        @Override public void cancel(String reason) { inner.cancel(reason); }
        @Override public String describe() { return inner.describe(); }
    }
}
