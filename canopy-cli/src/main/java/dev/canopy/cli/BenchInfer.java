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
import dev.canopy.model.InferenceEngine;
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

    @Option(names = "--tiles", description = "Survey size (default: 16000 tiles for the small CNN, 4000 for ResNet-18: about half a minute "
            + "of (b) each, long enough for a steady state, which a job's fixed start and commit costs and the JIT compiler still at work "
            + "hide in a run of a few seconds: against S3Proxy 8000 small-CNN tiles measured (b)/(c) 1.41, 16000 measured 1.87)")
    Integer tiles;
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

    @Option(names = "--seconds", defaultValue = "2", description = "Seconds per model-only measurement (default: ${DEFAULT-VALUE})")
    double seconds;
    @Option(names = "--engine", defaultValue = "auto", description = "Engine of the pipeline runs (b) and (c): auto, pytorch or onnx (default: ${DEFAULT-VALUE})")
    String engine;

    // a plain flag: picocli's negatable option with a true default read --no-warm-up as "true" and kept warming up
    @Option(names = "--no-warm-up", description = "Measure the first run of (b) and (c). By default each runs once unmeasured before "
            + "it is measured, so both are measured in steady state (JIT-compiled, executors and models loaded), as in a job of hours")
    boolean noWarmUp;
    @Option(names = "--warm-up", hidden = true, description = "The default; accepted so scripts written for the earlier negatable option still run")
    boolean warmUpAccepted;
    @Option(names = "--model-only", description = "Measure the engines' model-only ceilings and stop (no survey, no pipelines)")
    boolean modelOnly;

    static final int[] BATCHES = {1, 8, 16, 32};

    /** Best model-only rate of one engine and the batch size that gave it. */
    record Ceiling(String engine, double[] perBatch, double best, int bestBatch) { }

    record Row(String model, int tiles, List<Ceiling> ceilings, String picked, double decode, double canopy, double naive) {
        Ceiling of(String engine) {
            return ceilings.stream().filter(c -> c.engine().equals(engine)).findFirst().orElseThrow();
        }

        double fastest() {
            return ceilings.stream().mapToDouble(Ceiling::best).max().orElse(0);
        }

        /** The CPU bound estimate: decode and model share the cores, so a tile costs 1/D + 1/M seconds of all of them. */
        double bound() {
            return 1 / (1 / decode + 1 / of(picked).best());
        }
    }

    /** The store's own process when the survey lives in S3Proxy, so its CPU share can be printed. */
    private dev.canopy.testkit.S3ProxyServer s3;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path bench = parent.main.home().dir("bench");
        String outRoot = bench.toUri().toString();
        s3 = null;
        if (store.equals("s3")) {
            s3 = dev.canopy.testkit.S3ProxyServer.start(bench.resolve("s3proxy"));
            s3.createBucket("bench");
            System.setProperty("CANOPY_S3_ENDPOINT", s3.endpoint().toString());
            System.setProperty("CANOPY_S3_PATH_STYLE", "true");
            System.setProperty("aws.accessKeyId", dev.canopy.testkit.S3ProxyServer.ACCESS_KEY);
            System.setProperty("aws.secretAccessKey", dev.canopy.testkit.S3ProxyServer.SECRET_KEY);
            System.setProperty("aws.region", "us-east-1");
            outRoot = "s3://bench";
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
                int n = tiles != null ? tiles : arch == Architecture.SMALL_CNN ? 16_000 : 4_000;
                Path survey = modelOnly ? null : survey(bench, n, out);
                String surveyRoot = modelOnly ? null : survey.toUri().toString();
                if (s3 != null && !modelOnly) {
                    surveyRoot = "s3://bench/survey-" + n + "-" + tileSize;
                    out.printf("uploading the survey to S3Proxy at %s%n", s3.endpoint());
                    upload(survey, surveyRoot);
                }
                out.printf("%n== %s at %d px, %,d tiles of %d px ==%n", arch.id(), size, n, tileSize);
                List<Ceiling> ceilings = new ArrayList<>();
                byte[] weights = registry.openPackage(v).weights();
                ceilings.add(ceiling("pytorch-unfolded", () -> dev.canopy.model.BlockClassifier.unfolded(card, weights), size, out));
                for (InferenceEngine e : List.of(InferenceEngine.PYTORCH, InferenceEngine.ONNX)) {
                    ceilings.add(ceiling(e.id(), () -> registry.openPackage(v).load(null, e), size, out));
                }
                InferenceEngine picked = InferCommand.engine(parent.main, registry.openPackage(v), engine);
                if (modelOnly) {
                    rows.add(new Row(arch.id(), 0, ceilings, picked.id(), Double.NaN, Double.NaN, Double.NaN));
                    continue;
                }
                Ceiling model = ceilings.stream().filter(c -> c.engine().equals(picked.id())).findFirst().orElseThrow();
                double decode = decodeRate(survey, size, threads, out);
                int batch = maxBatch != null ? maxBatch : Math.max(model.bestBatch(), 8);
                InferenceJobSpec job = canopyJob(surveyRoot, registry, v, picked, outRoot, replicas, batch, threads);
                int rowsPerShard = rowsPerShard(n);
                if (!noWarmUp) timed(job, v, rowsPerShard, new SparkShardRunner(spark), "canopy", null);
                double canopy = timed(job, v, rowsPerShard, new SparkShardRunner(spark), "canopy", out);
                InferenceJobSpec naiveJob = new InferenceJobSpec(job.surveyRoot(), job.modelRoot(), job.modelPrefix(), job.modelRef(), null,
                        outRoot + "/out-naive", 1, batch, 0, 1, 1, 1).withEngine(picked.id());
                if (!noWarmUp) timed(naiveJob, v, rowsPerShard, new NaiveSparkShardRunner(spark), "naive", null);
                double naive = timed(naiveJob, v, rowsPerShard, new NaiveSparkShardRunner(spark), "naive", out);
                rows.add(new Row(arch.id(), n, ceilings, picked.id(), decode, canopy, naive));
                ExecutorResources.reset();
                dev.canopy.bench.NaiveShardTask.reset();
            }
        } finally {
            spark.stop();
            if (s3 != null) s3.close();
        }
        out.printf("%nModel alone (a), best img/s over batch sizes %s (batch in brackets):%n", java.util.Arrays.toString(BATCHES));
        out.printf("%-10s %18s %14s %14s %9s %16s %16s%n", "model", "pytorch-unfolded", "pytorch", "onnx", "picked", "picked/fastest", "picked/unfolded");
        for (Row r : rows) {
            Ceiling p = r.of(r.picked());
            out.printf("%-10s %18s %14s %14s %9s %16.2f %16.2f%n", r.model(), cell(r.of("pytorch-unfolded")), cell(r.of("pytorch")), cell(r.of("onnx")),
                    r.picked(), p.best() / r.fastest(), p.best() / r.of("pytorch-unfolded").best());
        }
        if (modelOnly) return 0;
        out.printf("%nPipelines on the picked engine: D = decode only, M = model only (picked), both on all cores; B = 1/(1/D + 1/M), the rate "
                + "if decoding and the model shared the cores with nothing lost (an estimate of the bound: a model that leaves cores idle lets (b) pass it)%n");
        out.printf("%-10s %7s %9s %9s %9s %14s %14s %8s %8s %8s%n", "model", "tiles", "D/s", "M/s", "B/s", "(b) canopy/s", "(c) naive/s", "(b)/B", "(b)/M", "(b)/(c)");
        for (Row r : rows) {
            double m = r.of(r.picked()).best();
            out.printf("%-10s %7d %9.0f %9.0f %9.0f %14.0f %14.0f %8.2f %8.2f %8.2f%n", r.model(), r.tiles(), r.decode(), m, r.bound(), r.canopy(), r.naive(),
                    r.canopy() / r.bound(), r.canopy() / m, r.canopy() / r.naive());
        }
        out.printf("%n%d cores, decode threads %d, replicas %d, pipeline batch %s, Spark %s, store %s, simulated fetch latency %s ms, JPEG decoder %s%n",
                Runtime.getRuntime().availableProcessors(), threads, replicas, maxBatch == null ? "= best bs" : maxBatch.toString(), master == null ? "local[*]" : master, store, Long.getLong("canopy.bench.fetchLatencyMs", 0),
                decoderName());
        return 0;
    }

    /** Which JPEG decoder the runs used: it sets D and every pipeline's rate. */
    static String decoderName() {
        return ImageDecoder.JpegMethod.preferred() == ImageDecoder.JpegMethod.TURBOJPEG_DCT_SCALED ? "TurboJPEG (scaled in the DCT domain)"
                : "ImageIO (subsampled; libturbojpeg0 not found or -Dcanopy.decoder=imageio)";
    }

    /** A generated survey of {@code n} tiles, made once and kept under the bench folder. */
    private Path survey(Path bench, int n, PrintWriter out) {
        return survey(bench, n, tileSize, parent.main.progress(), out);
    }

    static Path survey(Path bench, int n, int tileSize, ProgressListener progress, PrintWriter out) {
        Path survey = bench.resolve("infer-survey-" + n + "-" + tileSize);
        try (FileObjectStore store = new FileObjectStore(survey)) {
            if (!store.exists("survey.json")) {
                out.printf("generating %,d tiles of %d px into %s%n", n, tileSize, survey);
                SurveyRuns.generate(SurveySpec.of(n, tileSize, 21), store, true, Runtime.getRuntime().availableProcessors(), progress);
            }
        }
        return survey;
    }

    /** Canopy's pipeline (b) over {@code surveyRoot} into {@code outRoot}/out-canopy, with the job settings this benchmark measures. */
    static InferenceJobSpec canopyJob(String surveyRoot, ModelRegistry registry, ModelRegistry.Version v, InferenceEngine engine, String outRoot,
                                      int replicas, int batch, int decodeThreads) {
        return new InferenceJobSpec(surveyRoot, registry.store().root().toString(), registry.packagePrefix(v), v.ref(), null, outRoot + "/out-canopy",
                replicas, batch, 5_000, decodeThreads, TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES).withEngine(engine.id());
    }

    /** Shards of about half a core's share of the tiles each, so every core has work until the end. */
    static int rowsPerShard(int n) {
        return Math.max(50, n / (2 * Runtime.getRuntime().availableProcessors()));
    }

    /** One run of a job on {@code runner}, overwriting its output: the summary (ok tiles and seconds give the rate; error rows are not throughput). */
    static BatchInference.Summary run(InferenceJobSpec job, ModelRegistry.Version v, int rowsPerShard, ShardRunner runner) {
        BatchInference.Options o = BatchInference.Options.defaults().withOverwrite(true).withRowsPerShard(rowsPerShard).withMaxErrorFraction(1);
        return BatchInference.run(job, v.card(), null, o, runner, ProgressListener.NONE);
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

    private static String cell(Ceiling c) {
        return String.format("%.0f [%d]", c.best(), c.bestBatch());
    }

    /** Images/s of one engine alone, on random pre-normalised tensors, at each batch size. */
    private Ceiling ceiling(String label, java.util.function.Supplier<TileClassifier> load, int s, PrintWriter out) {
        double[] rates = new double[BATCHES.length];
        double best = 0;
        int bestBs = 0;
        try (TileClassifier c = load.get()) {
            for (int i = 0; i < BATCHES.length; i++) {
                int bs = BATCHES[i];
                float[] x = new float[bs * 3 * s * s];
                SplittableRandom r = new SplittableRandom(bs);
                for (int k = 0; k < x.length; k++) x[k] = (float) r.nextGaussian();
                rates[i] = dev.canopy.model.EngineChoice.imagesPerSecond(c, x, bs, (long) (seconds * 1e9));
                if (rates[i] > best) {
                    best = rates[i];
                    bestBs = bs;
                }
            }
        }
        StringBuilder line = new StringBuilder(String.format("  (a) %-17s", label));
        for (int i = 0; i < BATCHES.length; i++) line.append(String.format("  bs %2d: %6.0f", BATCHES[i], rates[i]));
        out.println(line.append("  img/s"));
        out.flush();
        return new Ceiling(label, rates, best, bestBs);
    }

    /** D: tiles/s decoding alone (JPEG from memory to the model's normalised input) on {@code threads} threads. */
    private double decodeRate(Path survey, int size, int threads, PrintWriter out) throws Exception {
        List<byte[]> jpegs = new ArrayList<>();
        try (var files = Files.walk(survey)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".jpg")).limit(256)::iterator) jpegs.add(Files.readAllBytes(p));
        }
        ImageDecoder decoder = new ImageDecoder(size, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD);
        double rate = decodeRate(decoder, jpegs, threads, (long) (seconds * 1e9));
        out.printf("  D   decode only, %d threads: %.0f tiles/s%n", threads, rate);
        return rate;
    }

    /** Images decoded per second on {@code threads} threads for about {@code nanos}. */
    static double decodeRate(ImageDecoder decoder, List<byte[]> images, int threads, long nanos) throws Exception {
        java.util.concurrent.atomic.AtomicLong decoded = new java.util.concurrent.atomic.AtomicLong();
        long t0 = System.nanoTime(), end = t0 + nanos;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int offset = t;
                fs.add(pool.submit(() -> {
                    for (int i = offset; System.nanoTime() < end; i++) {
                        decoder.decode(images.get(i % images.size()), "tile");
                        decoded.incrementAndGet();
                    }
                }));
            }
            for (var f : fs) f.get(); // a decoder failure surfaces here, not as a silent zero
        } finally {
            pool.shutdownNow();
        }
        return decoded.get() / ((System.nanoTime() - t0) / 1e9);
    }

    private double timed(InferenceJobSpec job, ModelRegistry.Version v, int rowsPerShard, ShardRunner runner, String label, PrintWriter out)
            throws Exception {
        java.time.Duration storeCpu0 = s3 == null ? null : s3.cpuTime();
        BatchInference.Summary s = run(job, v, rowsPerShard, runner);
        double ips = s.ok() / s.seconds(); // error rows are not throughput
        if (out == null) {
            spec.commandLine().getOut().printf("  warm-up (%s): %.0f ok img/s%n", label.equals("canopy") ? "b" : "c", ips);
            return ips;
        }
        out.printf("  (%s) %,d tiles ok, %,d errors in %.1f s: %.0f ok img/s%n  %s", label.equals("canopy") ? "b" : "c", s.ok(), s.errors(),
                s.seconds(), ips, InferCommand.stageLine(s));
        if (storeCpu0 != null) {
            double cpu = (s3.cpuTime().toNanos() - storeCpu0.toNanos()) / 1e9;
            out.printf("  S3Proxy on the same cores used %.1f CPU-s of the run's %.1f (%.0f%% of %d cores)%n", cpu,
                    s.seconds() * Runtime.getRuntime().availableProcessors(), 100 * cpu / (s.seconds() * Runtime.getRuntime().availableProcessors()),
                    Runtime.getRuntime().availableProcessors());
        }
        if (s.errors() > 0) out.printf("  WARNING: %,d error rows (see %s); they are not counted as throughput%n", s.errors(), s.output());
        return ips;
    }
}
