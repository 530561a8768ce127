package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.serve.ModelServer;
import dev.canopy.serve.ServeSettings;
import dev.canopy.model.Classification;
import dev.canopy.model.InferenceEngine;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.FileObjectStore;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * A load generator on 127.0.0.1 against the real server: closed-loop clients at several
 * concurrency levels, dynamic batching versus batch size 1 in the same run, then an open-loop
 * overload at twice the sustainable rate; and the batch pipeline on the same model and engine, so
 * serving's rate is compared with the pipeline's in one run.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serving throughput and p50/p99 latency, dynamic batching vs batch size 1, and behaviour at 2x the sustainable load.")
final class BenchServe implements Callable<Integer> {
    @ParentCommand
    BenchCommand parent;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--models", defaultValue = "small-cnn,resnet18", split = ",")
    List<String> models;
    @Option(names = "--concurrency", defaultValue = "1,4,16,32", split = ",")
    List<Integer> levels;
    @Option(names = "--seconds", defaultValue = "6", description = "Seconds per measurement (default: ${DEFAULT-VALUE})")
    int seconds;
    @Option(names = "--timeout-ms", defaultValue = "1000", description = "Server request timeout (default: ${DEFAULT-VALUE})")
    long timeoutMs;

    @Option(names = "--warm-up-seconds", defaultValue = "8", description = "Unmeasured load before each mode's measurements, so both the "
            + "in-process and the served path are JIT-compiled when measured (default: ${DEFAULT-VALUE})")
    int warmUpSeconds;
    @Option(names = "--max-batch", defaultValue = "" + ServeSettings.DEFAULT_MAX_BATCH, description = "Largest dynamic batch, in process and "
            + "served, as canopy serve --max-batch (default: ${DEFAULT-VALUE})")
    int maxBatch;
    @Option(names = "--engine", defaultValue = "auto", description = "Inference engine: auto, pytorch or onnx (default: ${DEFAULT-VALUE})")
    String engine;
    @Option(names = "--pipeline-tiles", description = "Tiles of 512 px for the batch pipeline measured in the same run, the rate serving is "
            + "compared with (default: as canopy bench infer: 16000 for the small CNN, 4000 for ResNet-18; 0: no pipeline)")
    Integer pipelineTiles;

    record Point(String model, String mode, int concurrency, double rps, double p50, double p99, long errors) { }

    private final HttpClient http = HttpClient.newBuilder().executor(Executors.newFixedThreadPool(8)).build();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (maxBatch < 1) throw new UsageException("--max-batch must be at least 1, not " + maxBatch, "pass --max-batch 8, say");
        Path bench = parent.main.home().dir("bench");
        Path survey = bench.resolve("serve-survey-512"); // the tile size bench infer reads, so the two rates compare
        try (SurveyGenerator g = new SurveyGenerator(); FileObjectStore s = new FileObjectStore(survey)) {
            if (!s.exists("survey.json")) g.generate(SurveySpec.of(16, 512, 3), s, ProgressListener.NONE);
        }
        byte[] jpeg = Files.readAllBytes(survey.resolve("tiles/r00000c00000.jpg"));
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(bench.resolve("serve-registry")), bench.resolve("cache"), Clock.systemUTC());
        List<Point> points = new ArrayList<>();
        List<String> overload = new ArrayList<>();
        Map<String, Double> pipelines = new java.util.LinkedHashMap<>();
        Map<String, Double> bounds = new java.util.LinkedHashMap<>();
        org.apache.spark.sql.SparkSession spark = null;
        try {
            for (String m : models) {
                Architecture arch = Architecture.of(m);
                int size = arch.defaultInputSize();
                String name = "serve-" + arch.id();
                ModelCard card = new ModelCard(name, ModelCard.FORMAT_DJL, arch.id(), size, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                        LandCover.labels(), Map.of(), null);
                ModelRegistry.Version v = registry.register(name, card, arch.initialWeights(5, size, 1));
                InferenceEngine picked = InferCommand.engine(parent.main, registry.openPackage(v), engine);
                double sustainable = 0;
                bounds.put(arch.id(), batchingBound(registry, v, picked, size, card, jpeg, out));
                // the same model, images and batching without HTTP: what the serving stack itself costs
                for (String mode : new String[] {"dynamic", "batch-1"}) {
                    ImageDecoder decoder = new ImageDecoder(size, card.mean(), card.std());
                    try (PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> registry.openPackage(v).load(null, picked))
                            .withMaxBatch(mode.equals("dynamic") ? maxBatch : 1).withMaxWait(0).withQueueCapacity(256).build()) {
                        closedLoop(() -> pool.submit(decoder.decode(jpeg, "tile")).get() != null, 32, warmUpSeconds); // warm-up
                        for (int c : levels) {
                            Point p = closedLoop(() -> pool.submit(decoder.decode(jpeg, "tile")).get() != null, c, seconds)
                                    .withLabels(arch.id(), "in-process " + mode, c);
                            points.add(p);
                            out.printf("  %-10s %-19s c=%-3d %8.1f img/s  p50 %7.1f ms  p99 %7.1f ms%n", p.model(), p.mode(), c, p.rps(), p.p50(), p.p99());
                        }
                    }
                }
                for (String mode : new String[] {"dynamic", "batch-1"}) {
                    ServeSettings st = ServeSettings.defaults().withPort(0).withMaxBatch(mode.equals("dynamic") ? maxBatch : 1)
                            .withQueueCapacity(256).withRequestTimeout(Duration.ofMillis(timeoutMs)).withEngine(picked, null);
                    try (ModelServer server = ModelServer.start(registry, st.withNoAuth(), Clock.systemUTC(), List.of(name))) {
                        URI uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/models/" + name + "/predict");
                        closedLoop(uri, jpeg, 32, warmUpSeconds); // warm-up: the JIT compiles the HTTP path (28% of the CPU in a 2 s warm-up)
                        for (int c : levels) {
                            Point p = closedLoop(uri, jpeg, c, seconds).withLabels(arch.id(), mode, c);
                            points.add(p);
                            out.printf("  %-10s %-8s c=%-3d %8.1f req/s  p50 %7.1f ms  p99 %7.1f ms  refused/timed out %d%n", p.model(), p.mode(),
                                    c, p.rps(), p.p50(), p.p99(), p.errors());
                            if (mode.equals("dynamic")) sustainable = Math.max(sustainable, p.rps());
                        }
                        if (mode.equals("dynamic")) overload.add(openLoop(uri, jpeg, 2 * sustainable, seconds, arch.id()));
                    }
                }
                int n = pipelineTiles != null ? pipelineTiles : arch == Architecture.SMALL_CNN ? 16_000 : 4_000;
                if (n > 0) {
                    if (spark == null) spark = dev.canopy.spark.SparkSessions.create(null, "canopy-bench-serve", List.of());
                    pipelines.put(arch.id(), pipelineRate(spark, bench, registry, v, picked, n, out));
                }
            }
        } finally {
            if (spark != null) spark.stop();
        }
        out.printf("%n%-10s %-19s %5s %10s %10s %10s %10s%n", "model", "mode", "conc", "req/s", "p50 ms", "p99 ms", "errors");
        for (Point p : points) out.printf("%-10s %-19s %5d %10.1f %10.1f %10.1f %10d%n", p.model(), p.mode(), p.concurrency(), p.rps(), p.p50(), p.p99(), p.errors());
        out.println();
        for (String m : models) {
            String id = Architecture.of(m).id();
            for (int c : levels) {
                Point d = find(points, id, "dynamic", c), one = find(points, id, "batch-1", c);
                if (d == null || one == null) continue;
                Point inProcess = find(points, id, "in-process dynamic", c);
                Double pipeline = pipelines.get(id);
                out.printf("%-10s c=%-3d dynamic/batch-1 throughput %.2fx (at most %.2fx on these cores), p99 %.1f vs %.1f ms; served/in-process "
                                + "(dynamic) %.2f; best served/pipeline %s%n", id, c, d.rps() / one.rps(), bounds.get(id), d.p99(), one.p99(),
                        inProcess == null ? Double.NaN : d.rps() / inProcess.rps(),
                        pipeline == null ? "-" : String.format("%.0f/%.0f = %.2f", Math.max(d.rps(), one.rps()), pipeline, Math.max(d.rps(), one.rps()) / pipeline));
            }
        }
        out.println();
        overload.forEach(out::println);
        return 0;
    }

    /**
     * The batch pipeline's end-to-end rate for the same model package and engine on this machine: {@code canopy bench infer}'s (b) on local
     * disk, Spark local[*], decode threads = cores, batches up to {@code --max-batch}; one unmeasured run first, as there.
     */
    private double pipelineRate(org.apache.spark.sql.SparkSession spark, Path bench, ModelRegistry registry, ModelRegistry.Version v,
                                InferenceEngine picked, int n, PrintWriter out) {
        Path survey = BenchInfer.survey(bench, n, 512, parent.main.progress(), out);
        int cores = Runtime.getRuntime().availableProcessors();
        dev.canopy.batch.InferenceJobSpec job = BenchInfer.canopyJob(survey.toUri().toString(), registry, v, picked, bench.toUri().toString(),
                1, maxBatch, cores);
        BenchInfer.run(job, v, BenchInfer.rowsPerShard(n), new dev.canopy.spark.SparkShardRunner(spark)); // warm-up
        dev.canopy.batch.BatchInference.Summary s = BenchInfer.run(job, v, BenchInfer.rowsPerShard(n), new dev.canopy.spark.SparkShardRunner(spark));
        double rate = s.ok() / s.seconds();
        out.printf("  %-10s pipeline (b) %,d tiles ok, %,d errors in %.1f s: %.0f ok img/s%n", v.name().replace("serve-", ""), s.ok(), s.errors(),
                s.seconds(), rate);
        dev.canopy.batch.ExecutorResources.reset();
        return rate;
    }

    /**
     * The most dynamic batching can gain over batch size 1 here, when decoding (which does not batch) and the model share the cores:
     * a request costs 1/D + 1/M(1) of them at batch size 1 and at best 1/D + 1/M(max batch) batched, so the ratio of the two bounds
     * the throughput gain. D is measured on the benchmark's image on all cores, M on the engine alone.
     */
    private double batchingBound(ModelRegistry registry, ModelRegistry.Version v, InferenceEngine picked, int size, ModelCard card, byte[] jpeg,
                                 PrintWriter out) throws Exception {
        ImageDecoder decoder = new ImageDecoder(size, card.mean(), card.std());
        float[] one = decoder.decode(jpeg, "tile");
        long nanos = 2_000_000_000L;
        double m1 = 0, mBatch = 0; // M at batch size 1, and the best M at a batch size dynamic batching can form (up to --max-batch)
        int bestBatch = 1;
        try (dev.canopy.model.TileClassifier c = registry.openPackage(v).load(null, picked)) {
            for (int b : java.util.stream.IntStream.of(1, 8, 16, maxBatch).filter(b -> b <= maxBatch).distinct().toArray()) {
                float[] batch = new float[one.length * b];
                for (int i = 0; i < b; i++) System.arraycopy(one, 0, batch, i * one.length, one.length);
                double rate = dev.canopy.model.EngineChoice.imagesPerSecond(c, batch, b, nanos);
                if (b == 1) m1 = rate;
                if (rate > mBatch) {
                    mBatch = rate;
                    bestBatch = b;
                }
            }
        }
        int cores = Runtime.getRuntime().availableProcessors();
        AtomicLong decoded = new AtomicLong();
        long t0 = System.nanoTime(), end = t0 + nanos;
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < cores; t++) {
            Thread th = new Thread(() -> {
                while (System.nanoTime() < end) {
                    decoder.decode(jpeg, "tile");
                    decoded.incrementAndGet();
                }
            });
            th.start();
            threads.add(th);
        }
        for (Thread th : threads) th.join();
        double d = decoded.get() / ((System.nanoTime() - t0) / 1e9);
        double bound = (1 / d + 1 / m1) / (1 / d + 1 / mBatch);
        out.printf("  %-10s decode D %.0f img/s on %d threads, model alone M1 %.0f img/s at batch 1, best M %.0f at batch %d: dynamic batching can "
                + "gain at most (1/D + 1/M1)/(1/D + 1/M) = %.2fx%n", v.name().replace("serve-", ""), d, cores, m1, mBatch, bestBatch, bound);
        return bound;
    }

    private static Point find(List<Point> ps, String model, String mode, int c) {
        return ps.stream().filter(p -> p.model().equals(model) && p.mode().equals(mode) && p.concurrency() == c).findFirst().orElse(null);
    }

    private record Raw(double rps, double p50, double p99, long errors) {
        Point withLabels(String model, String mode, int c) {
            return new Point(model, mode, c, rps, p50, p99, errors);
        }
    }

    /** One request of a closed loop: true when it was answered. */
    interface Call {
        boolean run() throws Exception;
    }

    private Raw closedLoop(URI uri, byte[] body, int concurrency, int secs) throws Exception {
        return closedLoop(() -> http.send(request(uri, body), HttpResponse.BodyHandlers.ofString()).statusCode() == 200, concurrency, secs);
    }

    /** {@code concurrency} clients, each sending its next request when the previous one is answered. */
    private static Raw closedLoop(Call call, int concurrency, int secs) throws Exception {
        long end = System.nanoTime() + secs * 1_000_000_000L;
        ConcurrentLinkedQueue<Long> lat = new ConcurrentLinkedQueue<>();
        AtomicLong errors = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < concurrency; i++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    long t0 = System.nanoTime();
                    try {
                        if (call.run()) lat.add(System.nanoTime() - t0);
                        else errors.incrementAndGet();
                    } catch (Exception e) {
                        errors.incrementAndGet();
                    }
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        long[] l = lat.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Raw(l.length / (double) secs, pct(l, 0.50), pct(l, 0.99), errors.get());
    }

    /** Requests at a fixed rate whatever the answers, as independent clients would send them. */
    private String openLoop(URI uri, byte[] body, double rate, int secs, String model) throws Exception {
        ScheduledExecutorService sched = Executors.newSingleThreadScheduledExecutor();
        List<CompletableFuture<long[]>> fs = new ArrayList<>();
        long periodNanos = (long) (1e9 / rate);
        long total = (long) (rate * secs);
        AtomicLong sent = new AtomicLong();
        CompletableFuture<Void> done = new CompletableFuture<>();
        sched.scheduleAtFixedRate(() -> {
            if (sent.incrementAndGet() > total) {
                done.complete(null);
                return;
            }
            long t0 = System.nanoTime();
            synchronized (fs) {
                fs.add(http.sendAsync(request(uri, body), HttpResponse.BodyHandlers.discarding())
                        .thenApply(r -> new long[] {r.statusCode(), System.nanoTime() - t0, serverNanos(r)})
                        .exceptionally(e -> new long[] {-1, System.nanoTime() - t0, 0}));
            }
        }, 0, periodNanos, TimeUnit.NANOSECONDS);
        done.get();
        sched.shutdownNow();
        long ok = 0, refused = 0, timedOut = 0, failed = 0;
        long maxMs = 0, maxServerMs = 0;
        List<Long> okLat = new ArrayList<>();
        synchronized (fs) {
            for (CompletableFuture<long[]> f : fs) {
                long[] r = f.get();
                maxMs = Math.max(maxMs, r[1] / 1_000_000);
                maxServerMs = Math.max(maxServerMs, r[2] / 1_000_000);
                if (r[0] == 200) {
                    ok++;
                    okLat.add(r[1]);
                } else if (r[0] == 429) refused++;
                else if (r[0] == 503) timedOut++;
                else failed++;
            }
        }
        long[] l = okLat.stream().mapToLong(Long::longValue).sorted().toArray();
        return String.format("%-10s overload at %.0f req/s (2x sustainable) for %d s: %d answered (p99 %.0f ms), %d refused with 429, %d timed out (503), "
                + "%d failed; slowest answer %d ms at the client, %d ms inside the server (Server-Timing), with a %d ms timeout", model, rate, secs, ok,
                pct(l, 0.99), refused, timedOut, failed, maxMs, maxServerMs, timeoutMs);
    }

    /** The server's own time for a request from its {@code Server-Timing: total;dur=MS} header, 0 when absent. */
    static long serverNanos(HttpResponse<?> r) {
        return r.headers().firstValue("Server-Timing").map(v -> {
            for (String metric : v.split(",")) { // "total;dur=12.5, proxy;dur=3": only the server's own "total" entry
                String[] parts = metric.trim().split(";");
                if (!parts[0].trim().equals("total")) continue;
                for (String p : parts) {
                    if (!p.trim().startsWith("dur=")) continue;
                    try {
                        return (long) (Double.parseDouble(p.trim().substring(4)) * 1e6);
                    } catch (NumberFormatException e) {
                        return 0L;
                    }
                }
            }
            return 0L;
        }).orElse(0L);
    }

    private static HttpRequest request(URI uri, byte[] body) {
        return HttpRequest.newBuilder(uri).header("Content-Type", "image/jpeg").timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    private static double pct(long[] sorted, double q) {
        if (sorted.length == 0) return Double.NaN;
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * (sorted.length - 1)))] / 1e6;
    }
}
