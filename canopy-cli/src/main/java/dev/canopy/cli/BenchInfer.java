package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.ExecutorResources;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.ShardRunner;
import dev.canopy.batch.TilePipeline;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.TileClassifier;
import dev.canopy.bench.NaiveSparkShardRunner;
import dev.canopy.spark.SparkSessions;
import dev.canopy.spark.SparkShardRunner;
import dev.canopy.storage.FileObjectStore;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * Batch inference throughput in one run: (a) the model alone on pre-decoded tensors at its best
 * batch size, (b) Canopy's pipeline end to end from the object store on Spark, (c) the naive fused
 * pipeline on Spark; and, with {@code --memory}, peak memory for a small and a large manifest.
 */
@Command(name = "infer", mixinStandardHelpOptions = true,
        description = "Batch inference throughput: model ceiling vs Canopy's pipeline vs a naive fused pipeline (and peak memory with --memory).")
final class BenchInfer implements Callable<Integer> {
    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--tiles", defaultValue = "2000", description = "Survey size (default: ${DEFAULT-VALUE})")
    int tiles;
    @Option(names = "--tile-size", defaultValue = "512", description = "Tile size in px (default: ${DEFAULT-VALUE})")
    int tileSize;
    @Option(names = "--models", defaultValue = "small-cnn,resnet18", split = ",", description = "Models to measure (default: ${DEFAULT-VALUE})")
    List<String> models;
    @Option(names = "--replicas", defaultValue = "1")
    int replicas;
    @Option(names = "--max-batch", description = "Largest pipeline batch (default: the model's best batch size from (a))")
    Integer maxBatch;
    @Option(names = "--decode-threads", description = "Decode threads (default: cores)")
    Integer decodeThreads;
    @Option(names = "--master", description = "Spark master (default: local[*])")
    String master;
    @Option(names = "--store", defaultValue = "file", description = "Where the survey and output live: s3 (S3Proxy on loopback) or file (default: ${DEFAULT-VALUE})")
    String store;

    record Row(String model, double ceiling, int bestBatch, double canopy, double naive) { }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path bench = parent.main.home().dir("bench");
        Path survey = bench.resolve("infer-survey-" + tiles + "-" + tileSize);
        try (FileObjectStore store = new FileObjectStore(survey)) {
            if (!store.exists("survey.json")) {
                out.printf("generating %,d tiles of %d px into %s%n", tiles, tileSize, survey);
                SurveyRuns.generate(SurveySpec.of(tiles, tileSize, 21), store, true, Runtime.getRuntime().availableProcessors(), parent.main.progress());
            }
        }
        String surveyRoot = survey.toUri().toString();
        String outRoot = bench.toUri().toString();
        dev.canopy.testkit.S3ProxyServer s3 = null;
        if (store.equals("s3")) {
            s3 = dev.canopy.testkit.S3ProxyServer.start(bench.resolve("s3proxy"));
            s3.createBucket("bench");
            System.setProperty("CANOPY_S3_ENDPOINT", s3.endpoint().toString());
            System.setProperty("CANOPY_S3_PATH_STYLE", "true");
            System.setProperty("aws.accessKeyId", dev.canopy.testkit.S3ProxyServer.ACCESS_KEY);
            System.setProperty("aws.secretAccessKey", dev.canopy.testkit.S3ProxyServer.SECRET_KEY);
            System.setProperty("aws.region", "us-east-1");
            surveyRoot = "s3://bench/survey";
            outRoot = "s3://bench";
            out.printf("uploading the survey to S3Proxy at %s%n", s3.endpoint());
            upload(survey, surveyRoot);
        } else if (!store.equals("file")) {
            throw new UsageException("--store must be s3 or file, got " + store, "e.g. --store file");
        }
        Path regDir = bench.resolve("registry");
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(regDir), bench.resolve("cache"), Clock.systemUTC());
        int threads = decodeThreads == null ? Runtime.getRuntime().availableProcessors() : decodeThreads;
        List<Row> rows = new ArrayList<>();
        SparkSession spark = SparkSessions.create(master, "canopy-bench-infer", List.of());
        try {
            for (String m : models) {
                Architecture arch = Architecture.of(m);
                int size = arch.defaultInputSize();
                ModelCard card = new ModelCard("bench-" + arch.id(), ModelCard.FORMAT_DJL, arch.id(), size, ImageDecoder.IMAGENET_MEAN,
                        ImageDecoder.IMAGENET_STD, LandCover.labels(), Map.of(), null);
                ModelRegistry.Version v = registry.register("bench-" + arch.id(), card, arch.initialWeights(LandCover.values().length, size, 1));
                int n = tiles;
                out.printf("%n== %s at %d px, %,d tiles of %d px ==%n", arch.id(), size, n, tileSize);
                double[] ceiling = ceiling(registry, v, out);
                int batch = maxBatch != null ? maxBatch : (int) ceiling[1];
                InferenceJobSpec job = new InferenceJobSpec(surveyRoot, registry.store().root().toString(), registry.packagePrefix(v),
                        v.ref(), null, outRoot + "/out-canopy", replicas, batch, 5_000, threads,
                        TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
                int rowsPerShard = Math.max(50, n / (2 * Runtime.getRuntime().availableProcessors()));
                double canopy = timed(job, v, n, rowsPerShard, new SparkShardRunner(spark), "canopy", out);
                InferenceJobSpec naiveJob = new InferenceJobSpec(job.surveyRoot(), job.modelRoot(), job.modelPrefix(), job.modelRef(), null,
                        outRoot + "/out-naive", 1, batch, 0, 1, 1, 1);
                double naive = timed(naiveJob, v, n, rowsPerShard, new NaiveSparkShardRunner(spark), "naive", out);
                rows.add(new Row(arch.id(), ceiling[0], (int) ceiling[1], canopy, naive));
                ExecutorResources.reset();
                dev.canopy.bench.NaiveShardTask.reset();
            }
        } finally {
            spark.stop();
            if (s3 != null) s3.close();
        }
        out.printf("%n%-10s %14s %10s %14s %14s %10s %10s%n", "model", "(a) ceiling/s", "best bs", "(b) canopy/s", "(c) naive/s", "(b)/(a)", "(b)/(c)");
        for (Row r : rows) {
            out.printf("%-10s %14.0f %10d %14.0f %14.0f %10.2f %10.2f%n", r.model(), r.ceiling(), r.bestBatch(), r.canopy(), r.naive(),
                    r.canopy() / r.ceiling(), r.canopy() / r.naive());
        }
        out.printf("%n%d cores, decode threads %d, replicas %d, pipeline batch %s, Spark %s, store %s, simulated fetch latency %s ms%n",
                Runtime.getRuntime().availableProcessors(), threads, replicas, maxBatch == null ? "= best bs" : maxBatch.toString(), master == null ? "local[*]" : master, store, Long.getLong("canopy.bench.fetchLatencyMs", 0));
        return 0;
    }

    private static void upload(Path dir, String root) throws Exception {
        try (FileObjectStore src = new FileObjectStore(dir);
             dev.canopy.storage.ObjectStore dst = dev.canopy.storage.ObjectStores.open(java.net.URI.create(root), dev.canopy.storage.S3Settings.fromEnvironment())) {
            List<String> keys;
            try (var s = src.listAll("")) {
                keys = s.map(dev.canopy.storage.ObjectInfo::key).toList();
            }
            keys.parallelStream().forEach(k -> {
                byte[] b = src.get(k);
                if (k.equals(dev.canopy.imagery.ManifestWriter.INDEX) || k.startsWith("manifest/")) {
                    dst.put(k, rewriteUris(k, b, dir, root));
                } else {
                    dst.put(k, b);
                }
            });
        }
    }

    /** Manifest rows hold absolute tile URIs: rewrite the Parquet parts so they point at the S3 copy. */
    private static byte[] rewriteUris(String key, byte[] bytes, Path dir, String root) throws RuntimeException {
        if (!key.endsWith(".parquet")) return bytes;
        try {
            Path tmp = Files.createTempDirectory("canopy-bench-manifest");
            try (FileObjectStore t = new FileObjectStore(tmp); FileObjectStore src = new FileObjectStore(dir)) {
                dev.canopy.imagery.Manifest m = dev.canopy.imagery.Manifest.open(src);
                try (dev.canopy.imagery.ManifestWriter w = new dev.canopy.imagery.ManifestWriter(t, Integer.MAX_VALUE, Map.of());
                     var rows = m.rows(m.index().parts().stream().filter(p -> p.key().equals(key)).findFirst().orElseThrow())) {
                    rows.forEach(r -> w.write(new dev.canopy.imagery.ManifestRow(r.id(), root + "/" + r.key(), r.key(), r.row(), r.col(), r.bbox(),
                            r.footprintWkb(), r.captureTime(), r.dominantClass(), r.label(), r.cover())));
                }
                return Files.readAllBytes(tmp.resolve("manifest/part-00000.parquet"));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Best images/s of the model alone over batch sizes, on random pre-normalised tensors. */
    private double[] ceiling(ModelRegistry registry, ModelRegistry.Version v, PrintWriter out) {
        double best = 0;
        int bestBs = 0;
        try (TileClassifier c = registry.openPackage(v).load(parent.main.home().cache().resolve("bench-model"))) {
            int s = c.card().inputSize();
            for (int bs : new int[] {1, 8, 16, 32, 64}) {
                float[] x = new float[bs * 3 * s * s];
                SplittableRandom r = new SplittableRandom(bs);
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                c.predict(x, bs); // warm-up
                long t0 = System.nanoTime();
                long images = 0;
                while (System.nanoTime() - t0 < 3_000_000_000L) {
                    c.predict(x, bs);
                    images += bs;
                }
                double ips = images / ((System.nanoTime() - t0) / 1e9);
                out.printf("  (a) model alone, batch %3d: %8.0f img/s%n", bs, ips);
                if (ips > best) {
                    best = ips;
                    bestBs = bs;
                }
            }
        }
        return new double[] {best, bestBs};
    }

    private double timed(InferenceJobSpec job, ModelRegistry.Version v, int n, int rowsPerShard, ShardRunner runner, String label, PrintWriter out)
            throws Exception {
        BatchInference.Options warm = BatchInference.Options.defaults().withOverwrite(true).withRowsPerShard(rowsPerShard).withMaxErrorFraction(1);
        BatchInference.Summary s = BatchInference.run(job, v.card(), null, warm, runner, ProgressListener.NONE);
        double ips = s.ok() / s.seconds(); // error rows are not throughput
        out.printf("  (%s) %,d tiles ok, %,d errors in %.1f s: %.0f ok img/s%n  %s", label.equals("canopy") ? "b" : "c", s.ok(), s.errors(),
                s.seconds(), ips, InferCommand.stageLine(s));
        if (s.errors() > 0) out.printf("  WARNING: %,d error rows (see %s); they are not counted as throughput%n", s.errors(), s.output());
        return ips;
    }
}
