package dev.canopy.cli;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
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

    @Option(names = "--warm-up-seconds", defaultValue = "8", description = "Least unmeasured load before each mode's measurements; the "
            + "warm-up then goes on in 2 s rounds until the JIT compiler has settled (a round with its threads under 2%% of the cores' CPU), "
            + "at most 4 times as long, so both the in-process and the served path are compiled when measured; 0: none (default: ${DEFAULT-VALUE})")
    int warmUpSeconds;
    @Option(names = "--max-batch", defaultValue = "" + ServeSettings.DEFAULT_MAX_BATCH, description = "Largest dynamic batch, in process and "
            + "served, as canopy serve --max-batch (default: ${DEFAULT-VALUE})")
    int maxBatch;
    @Option(names = "--engine", defaultValue = "auto", description = "Inference engine: auto, pytorch or onnx (default: ${DEFAULT-VALUE})")
    String engine;
    @Option(names = "--client", defaultValue = "apache", description = "Closed-loop HTTP client, on the same cores as the server: apache "
            + "(Apache HttpClient 5, classic, pooled keep-alive connections) or jdk (java.net.http) (default: ${DEFAULT-VALUE})")
    String client;
    @Option(names = "--pipeline-tiles", description = "Tiles of 512 px for the batch pipeline measured in the same run, the rate serving is "
            + "compared with (default: as canopy bench infer: 16000 for the small CNN, 4000 for ResNet-18; 0: no pipeline)")
    Integer pipelineTiles;

    record Point(String model, String mode, int concurrency, double rps, double p50, double p99, long errors) { }

    private final HttpClient http = HttpClient.newBuilder().executor(Executors.newFixedThreadPool(8, new java.util.concurrent.ThreadFactory() {
        private final java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public Thread newThread(Runnable r) {
            return new Thread(r, "bench-client-jdk-" + n.incrementAndGet()); // the load generator's, in a per-thread profile
        }
    })).build();
    /**
     * The closed loop's default client. The load generator shares the server's two cores, so its own CPU per request lowers the served
     * rate; java.net.http's asynchronous machinery costs more per request than a blocking client on kept-alive connections.
     */
    private final org.apache.hc.client5.http.impl.classic.CloseableHttpClient pooled = org.apache.hc.client5.http.impl.classic.HttpClients.custom()
            .setConnectionManager(org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder.create()
                    .setMaxConnTotal(512).setMaxConnPerRoute(512).build())
            // its default retries a 429 or 503 once after Retry-After: a refusal would count as a slow success; the jdk path does not retry
            .disableAutomaticRetries()
            .setDefaultRequestConfig(org.apache.hc.client5.http.config.RequestConfig.custom()
                    .setResponseTimeout(org.apache.hc.core5.util.Timeout.ofSeconds(30)).build()) // as the jdk path's request timeout
            .build();

    private static org.apache.hc.client5.http.classic.methods.HttpPost post(URI uri, byte[] body) {
        var post = new org.apache.hc.client5.http.classic.methods.HttpPost(uri);
        post.setEntity(new org.apache.hc.core5.http.io.entity.ByteArrayEntity(body, org.apache.hc.core5.http.ContentType.IMAGE_JPEG));
        return post;
    }

    /** One model of the run: its package, the engine it runs on and the images sent to it. */
    private record Subject(Architecture arch, ModelRegistry.Version version, InferenceEngine engine, ModelCard card, Path survey, int pipelineTiles,
                           List<byte[]> images) { }

    /**
     * The model alone at the batch sizes measured, and decoding: what batching can gain here at each concurrency (c clients form batches of
     * at most c), and the batch size of the model's best rate alone.
     */
    private record BatchingBound(double decode, java.util.SortedMap<Integer, Double> modelRates, int bestBatch) {
        /** (1/D + 1/M1) / (1/D + 1/M), M the best rate at a batch size c clients can form. */
        double gain(int concurrency) {
            double m1 = modelRates.get(1);
            double m = modelRates.headMap(concurrency + 1).values().stream().mapToDouble(Double::doubleValue).max().orElse(m1);
            return (1 / decode + 1 / m1) / (1 / decode + 1 / m);
        }
    }

    @Override
    public Integer call() throws Exception {
        try {
            return measure();
        } finally {
            pooled.close();
        }
    }

    private int measure() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (maxBatch < 1) throw new UsageException("--max-batch must be at least 1, not " + maxBatch, "pass --max-batch 8, say");
        if (pipelineTiles != null && pipelineTiles != 0 && pipelineTiles < IMAGES) throw new UsageException("--pipeline-tiles must be 0 or at least "
                + IMAGES + ", not " + pipelineTiles, "pass --pipeline-tiles 0 to skip the pipeline, or leave it out");
        if (!client.equals("apache") && !client.equals("jdk")) throw new UsageException("--client must be apache or jdk, not " + client, "e.g. --client jdk");
        if (seconds < 1 || warmUpSeconds < 0 || levels.stream().anyMatch(c -> c < 1)) throw new UsageException("--seconds must be at least 1, "
                + "--warm-up-seconds 0 or more and every --concurrency level at least 1", "e.g. --seconds 6 --warm-up-seconds 8 --concurrency 1,32");
        Path bench = parent.main.home().dir("bench");
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(bench.resolve("serve-registry")), bench.resolve("cache"), Clock.systemUTC());
        // surveys first, so generating them does not run beside any measurement
        List<Subject> subjects = new ArrayList<>();
        for (String m : models) subjects.add(subject(Architecture.of(m), bench, registry, out));
        List<Point> points = new ArrayList<>();
        List<String> overload = new ArrayList<>();
        Map<String, BatchingBound> bounds = new java.util.LinkedHashMap<>();
        for (Subject sub : subjects) {
            bounds.put(sub.arch().id(), batchingBound(registry, sub, out));
            measureServing(registry, sub, points, overload, out);
        }
        // the pipeline last, in a Spark session of its own that is stopped before anything else is measured
        Map<String, Double> pipelines = new java.util.LinkedHashMap<>();
        if (subjects.stream().anyMatch(sub -> sub.pipelineTiles() > 0)) {
            org.apache.spark.sql.SparkSession spark = dev.canopy.spark.SparkSessions.create(null, "canopy-bench-serve", List.of());
            try {
                for (Subject sub : subjects) {
                    if (sub.pipelineTiles() > 0) pipelines.put(sub.arch().id(), pipelineRate(spark, bench, registry, sub, bounds.get(sub.arch().id()), out));
                }
            } finally {
                spark.stop();
            }
        }
        out.printf("%n%-10s %-19s %5s %10s %10s %10s %10s%n", "model", "mode", "conc", "req/s", "p50 ms", "p99 ms", "errors");
        for (Point p : points) out.printf("%-10s %-19s %5d %10.1f %10.1f %10.1f %10d%n", p.model(), p.mode(), p.concurrency(), p.rps(), p.p50(), p.p99(), p.errors());
        out.println();
        for (Subject sub : subjects) {
            String id = sub.arch().id();
            for (int c : levels) {
                Point d = find(points, id, "dynamic", c), one = find(points, id, "batch-1", c);
                if (d == null || one == null) continue;
                Point inProcess = find(points, id, "in-process dynamic", c);
                out.printf("%-10s c=%-3d dynamic/batch-1 throughput %.2fx (estimated most batching can gain here: %.2fx), p99 %.1f vs %.1f ms; "
                                + "served/in-process (dynamic) %.2f%n", id, c, d.rps() / one.rps(), bounds.get(id).gain(c), d.p99(), one.p99(),
                        inProcess == null ? Double.NaN : d.rps() / inProcess.rps());
            }
            Double pipeline = pipelines.get(id);
            if (pipeline != null) {
                Point best = points.stream().filter(p -> p.model().equals(id) && !p.mode().startsWith("in-process"))
                        .max(java.util.Comparator.comparingDouble(Point::rps)).orElseThrow();
                out.printf("%-10s best served rate %.0f req/s (%s, c=%d) vs the batch pipeline's %.0f img/s: %s%n", id, best.rps(), best.mode(),
                        best.concurrency(), pipeline, pipeline > 0 ? String.format("%.2f", best.rps() / pipeline) : "- (the pipeline answered nothing)");
            }
        }
        out.println();
        overload.forEach(out::println);
        out.printf("%nclosed-loop HTTP client: %s (--client); open loop: java.net.http, at most %d connections; JPEG decoder %s%n", client, OPEN_LOOP_CONNECTIONS,
                BenchInfer.decoderName());
        return 0;
    }

    /** Registers the model and picks its engine; its images are tiles of the pipeline's survey (made here when missing), as bench infer's. */
    private Subject subject(Architecture arch, Path bench, ModelRegistry registry, PrintWriter out) throws Exception {
        int size = arch.defaultInputSize();
        String name = "serve-" + arch.id();
        ModelCard card = new ModelCard(name, ModelCard.FORMAT_DJL, arch.id(), size, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        ModelRegistry.Version v = registry.register(name, card, arch.initialWeights(5, size, 1));
        InferenceEngine picked = InferCommand.engine(parent.main, registry.openPackage(v), engine);
        int n = pipelineTiles != null ? pipelineTiles : arch == Architecture.SMALL_CNN ? 16_000 : 4_000;
        Path survey = BenchInfer.survey(bench, Math.max(n, IMAGES), 512, parent.main.progress(), out); // 512 px: the tile size bench infer reads
        List<byte[]> images = new ArrayList<>();
        try (var files = Files.list(survey.resolve("tiles"))) {
            for (Path f : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".jpg")).sorted().limit(IMAGES)::iterator) images.add(Files.readAllBytes(f));
        }
        if (images.isEmpty()) throw new IllegalStateException("no tiles in " + survey.resolve("tiles") + ": delete " + survey + " to make it again");
        return new Subject(arch, v, picked, card, survey, n, images);
    }

    /** Distinct images sent in turn, so the served path decodes varied tiles as the pipeline does, not one tile over and over. */
    static final int IMAGES = 64;

    /** In process (the same batching without HTTP: what the serving stack costs), then served, each mode at each concurrency level. */
    private void measureServing(ModelRegistry registry, Subject sub, List<Point> points, List<String> overload, PrintWriter out) throws Exception {
        String id = sub.arch().id();
        AtomicLong turn = new AtomicLong();
        java.util.function.Supplier<byte[]> next = () -> sub.images().get((int) (turn.getAndIncrement() % sub.images().size()));
        for (String mode : new String[] {"dynamic", "batch-1"}) {
            ImageDecoder decoder = sub.card().decoder();
            try (PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> registry.openPackage(sub.version()).load(null, sub.engine()))
                    .withMaxBatch(mode.equals("dynamic") ? maxBatch : 1).withMaxWait(0).withQueueCapacity(256).build()) {
                Call call = () -> pool.submit(decoder.decode(next.get(), "tile")).get(30, TimeUnit.SECONDS) != null;
                warmUp(call, id + " in-process " + mode, out);
                for (int c : levels) {
                    Point p = closedLoop(call, c, seconds).withLabels(id, "in-process " + mode, c);
                    points.add(p);
                    out.printf("  %-10s %-19s c=%-3d %8.1f img/s  p50 %7.1f ms  p99 %7.1f ms%n", p.model(), p.mode(), c, p.rps(), p.p50(), p.p99());
                }
            }
        }
        double sustainable = 0;
        for (String mode : new String[] {"dynamic", "batch-1"}) {
            ServeSettings st = ServeSettings.defaults().withPort(0).withMaxBatch(mode.equals("dynamic") ? maxBatch : 1)
                    .withQueueCapacity(256).withRequestTimeout(Duration.ofMillis(timeoutMs)).withEngine(sub.engine(), null);
            try (ModelServer server = ModelServer.start(registry, st.withNoAuth(), Clock.systemUTC(), List.of(sub.version().name()))) {
                URI uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/models/" + sub.version().name() + "/predict");
                Call call = client.equals("jdk") ? () -> http.send(request(uri, next.get()), HttpResponse.BodyHandlers.ofString()).statusCode() == 200
                        : () -> pooled.execute(post(uri, next.get()), r -> {
                            org.apache.hc.core5.http.io.entity.EntityUtils.consume(r.getEntity());
                            return r.getCode();
                        }) == 200;
                // the JIT compiles the HTTP path: 28% of the CPU in a 2 s warm-up; 8% of the first served measurement after 20 s
                warmUp(call, id + " " + mode, out);
                for (int c : levels) {
                    // a line before each measured served loop, so a per-thread profile (tools/stage_cpu.py) can open its window here
                    out.printf("  %-10s %-8s c=%-3d measuring for %d s%n", id, mode, c, seconds);
                    out.flush();
                    Point p = closedLoop(call, c, seconds).withLabels(id, mode, c);
                    points.add(p);
                    out.printf("  %-10s %-8s c=%-3d %8.1f req/s  p50 %7.1f ms  p99 %7.1f ms  refused/timed out %d%n", p.model(), p.mode(),
                            c, p.rps(), p.p50(), p.p99(), p.errors());
                    if (mode.equals("dynamic")) sustainable = Math.max(sustainable, p.rps());
                }
                if (mode.equals("dynamic")) overload.add(openLoop(uri, next, 2 * sustainable, seconds, id));
            }
        }
    }

    /**
     * The batch pipeline's end-to-end rate for the same model package and engine on this machine: {@code canopy bench infer}'s (b) on local
     * disk (Spark local[*], decode threads = cores, batches up to the model's best batch size alone and at least 8, as bench infer sets
     * them), over the survey the served images come from; one unmeasured run first, as there.
     */
    private double pipelineRate(org.apache.spark.sql.SparkSession spark, Path bench, ModelRegistry registry, Subject sub, BatchingBound bound,
                                PrintWriter out) {
        int cores = Runtime.getRuntime().availableProcessors();
        int batch = Math.max(bound.bestBatch(), 8);
        dev.canopy.batch.InferenceJobSpec job = BenchInfer.canopyJob(sub.survey().toUri().toString(), registry, sub.version(), sub.engine(),
                bench.resolve("serve-pipeline").toUri().toString(), 1, batch, cores);
        int n = sub.pipelineTiles(), rowsPerShard = BenchInfer.rowsPerShard(n);
        try {
            BenchInfer.run(job, sub.version(), rowsPerShard, new dev.canopy.spark.SparkShardRunner(spark)); // warm-up
            out.printf("  %-10s pipeline (b) measuring%n", sub.arch().id());
            out.flush();
            dev.canopy.batch.BatchInference.Summary s = BenchInfer.run(job, sub.version(), rowsPerShard, new dev.canopy.spark.SparkShardRunner(spark));
            double rate = s.seconds() > 0 ? s.ok() / s.seconds() : 0;
            out.printf("  %-10s pipeline (b), batches up to %d: %,d tiles ok, %,d errors in %.1f s: %.0f ok img/s%n", sub.arch().id(), batch, s.ok(),
                    s.errors(), s.seconds(), rate);
            if (s.errors() > 0) out.printf("  WARNING: %,d error rows (see %s); they are not counted as throughput%n", s.errors(), s.output());
            return rate;
        } finally {
            dev.canopy.batch.ExecutorResources.reset();
        }
    }

    /**
     * An estimate of the most dynamic batching can gain over batch size 1 here, when decoding (which does not batch) and the model share
     * the cores: a request costs about 1/D + 1/M(1) of them at batch size 1 and 1/D + 1/M(best batch) batched. D is measured on the
     * served images on all cores after a warm-up, M on the engine alone; both are single measurements, so treat the ratio as an estimate.
     */
    private BatchingBound batchingBound(ModelRegistry registry, Subject sub, PrintWriter out) throws Exception {
        ImageDecoder decoder = sub.card().decoder();
        float[] one = decoder.decode(sub.images().get(0), "tile");
        long nanos = 2_000_000_000L;
        java.util.SortedMap<Integer, Double> rates = new java.util.TreeMap<>(); // the model alone at batch sizes dynamic batching can form
        try (dev.canopy.model.TileClassifier c = registry.openPackage(sub.version()).load(null, sub.engine())) {
            for (int b : java.util.stream.IntStream.of(1, 8, 16, maxBatch).filter(b -> b <= maxBatch).distinct().toArray()) {
                float[] batch = new float[one.length * b];
                for (int i = 0; i < b; i++) System.arraycopy(one, 0, batch, i * one.length, one.length);
                rates.put(b, dev.canopy.model.EngineChoice.imagesPerSecond(c, batch, b, nanos));
            }
        }
        int bestBatch = rates.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        int cores = Runtime.getRuntime().availableProcessors();
        BenchInfer.decodeRate(decoder, sub.images(), cores, nanos); // warm-up
        BatchingBound bound = new BatchingBound(BenchInfer.decodeRate(decoder, sub.images(), cores, nanos), rates, bestBatch);
        out.printf("  %-10s decode D %.0f img/s on %d threads, model alone M1 %.0f img/s at batch 1, best M %.0f at batch %d: dynamic batching can "
                + "gain about (1/D + 1/M1)/(1/D + 1/M) = %.2fx at most (with enough clients to fill the batch)%n", sub.arch().id(), bound.decode(), cores,
                rates.get(1), rates.get(bestBatch), bestBatch, bound.gain(Integer.MAX_VALUE - 1));
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

    /**
     * Unmeasured load at concurrency 32 for at least {@code --warm-up-seconds}, then in 2 s rounds until a round in which the JIT
     * compiler threads used under 2% of the cores' CPU time, for at most four times the least. Code run once per request reaches the
     * C2 compiler's thresholds only after some ten thousand requests, and then waits in its queue: a fixed warm-up of 20 s still left
     * the compiler with 8% of the cores during the first served measurement (per-thread CPU, tools/stage_cpu.py). 0 skips it.
     */
    private void warmUp(Call call, String what, PrintWriter out) throws Exception {
        if (warmUpSeconds == 0) return;
        closedLoop(call, 32, warmUpSeconds);
        long before = compilerCpuNanos();
        if (before < 0) return; // not Linux: the fixed warm-up only
        int cores = Runtime.getRuntime().availableProcessors();
        int spent = warmUpSeconds, round = 2;
        double share;
        do {
            closedLoop(call, 32, round);
            spent += round;
            long after = compilerCpuNanos(); // one reading ends this round and starts the next
            share = (after - before) / (round * 1e9 * cores);
            before = after;
        } while (share >= 0.02 && spent + round <= 4 * warmUpSeconds);
        out.printf("  %-28s warmed up for %d s; JIT compiler threads in the last 2 s: %.1f%% of the cores' CPU%s%n", what, spent, 100 * share,
                share >= 0.02 ? " (not settled; measuring anyway)" : "");
    }

    /** CPU time of this JVM's JIT compiler threads (Linux: their /proc/self/task stat), or -1 where that cannot be read. */
    static long compilerCpuNanos() {
        Path tasks = Path.of("/proc/self/task");
        if (!Files.isDirectory(tasks)) return -1;
        long ticks = 0;
        try (java.util.stream.Stream<Path> all = Files.list(tasks)) {
            for (Path t : (Iterable<Path>) all::iterator) {
                String stat;
                try {
                    stat = Files.readString(t.resolve("stat"));
                } catch (java.io.IOException ended) {
                    continue;
                }
                int open = stat.indexOf('('), close = stat.lastIndexOf(')');
                String name = stat.substring(open + 1, close);
                if (!name.startsWith("C1 CompilerThre") && !name.startsWith("C2 CompilerThre")) continue;
                String[] f = stat.substring(close + 2).split(" ");
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime: stat fields 14 and 15
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return ticks * 10_000_000L; // USER_HZ is 100 on Linux
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
            }, "bench-client-" + i); // named so a per-thread profile can tell the load generator's CPU from the server's
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        long[] l = lat.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Raw(l.length / (double) secs, pct(l, 0.50), pct(l, 0.99), errors.get());
    }

    /**
     * Requests at a fixed rate whatever the answers, as independent clients would send them, over at most {@link #OPEN_LOOP_CONNECTIONS}
     * connections: a request due while all are busy is counted as not sent. (Unbounded, the JDK client opens a connection per waiting
     * request; at 1,700 req/s client and server ran out of file descriptors in one JVM.)
     */
    private String openLoop(URI uri, java.util.function.Supplier<byte[]> bodies, double rate, int secs, String model) throws Exception {
        ScheduledExecutorService sched = Executors.newSingleThreadScheduledExecutor();
        List<CompletableFuture<long[]>> fs = new ArrayList<>();
        long periodNanos = (long) (1e9 / rate);
        long total = (long) (rate * secs);
        AtomicLong sent = new AtomicLong(), notSent = new AtomicLong();
        java.util.concurrent.Semaphore connections = new java.util.concurrent.Semaphore(OPEN_LOOP_CONNECTIONS);
        CompletableFuture<Void> done = new CompletableFuture<>();
        sched.scheduleAtFixedRate(() -> {
            try {
                if (sent.incrementAndGet() > total) {
                    done.complete(null);
                    return;
                }
                if (!connections.tryAcquire()) {
                    notSent.incrementAndGet();
                    return;
                }
                long t0 = System.nanoTime();
                CompletableFuture<long[]> f = http.sendAsync(request(uri, bodies.get()), HttpResponse.BodyHandlers.discarding())
                        .thenApply(r -> new long[] {r.statusCode(), System.nanoTime() - t0, serverNanos(r)})
                        .exceptionally(e -> new long[] {-1, System.nanoTime() - t0, 0});
                f.whenComplete((r, e) -> connections.release());
                synchronized (fs) {
                    fs.add(f);
                }
            } catch (RuntimeException | Error e) {
                done.completeExceptionally(e); // an executor stops a periodic task that throws: end the run instead of waiting forever
            }
        }, 0, periodNanos, TimeUnit.NANOSECONDS);
        try {
            done.get(secs + 60L, TimeUnit.SECONDS);
        } finally {
            sched.shutdownNow();
        }
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
                + "%d failed, %d not sent (all %d of the load generator's connections busy); slowest answer %d ms at the client, %d ms inside the "
                + "server (Server-Timing), with a %d ms timeout", model, rate, secs, ok, pct(l, 0.99), refused, timedOut, failed, notSent.get(),
                OPEN_LOOP_CONNECTIONS, maxMs, maxServerMs, timeoutMs);
    }

    /** The open loop's connections, as a load generator's fixed pool (wrk, k6) would hold them. */
    static final int OPEN_LOOP_CONNECTIONS = 512;

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
