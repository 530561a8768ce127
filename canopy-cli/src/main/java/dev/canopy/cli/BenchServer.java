package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.client.WebhookListener;
import dev.canopy.control.ControlServer;
import dev.canopy.control.ControlSettings;
import dev.canopy.control.Database;
import dev.canopy.control.DbTokens;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code canopy bench server}: the control plane's own overhead, on the embedded database and on a PostgreSQL
 * server, in one run: latency of {@code GET /v1/jobs/{id}} and of {@code POST /v1/predictions} (accepting a
 * job; the job itself is not run), submissions per second at a fixed concurrency with a fixed number of HTTP
 * threads, and the delay from a job's completion (a cancel, which ends a queued job at once) to its verified
 * webhook delivery on 127.0.0.1.
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Control plane latency, submissions per second and webhook delay on the embedded database and a PostgreSQL server.")
final class BenchServer implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Option(names = "--db-url", defaultValue = "jdbc:postgresql://127.0.0.1:5432/test",
            description = "PostgreSQL server to measure beside the embedded one, in a throwaway schema (default: ${DEFAULT-VALUE}; 'none' to skip)")
    String dbUrl;
    @Option(names = "--concurrency", defaultValue = "16", description = "Clients in a closed loop (default: ${DEFAULT-VALUE})")
    int concurrency;
    @Option(names = "--http-threads", defaultValue = "4", description = "Server worker threads (default: ${DEFAULT-VALUE})")
    int httpThreads;
    @Option(names = "--requests", defaultValue = "3000", description = "Requests per measurement (default: ${DEFAULT-VALUE})")
    int requests;
    @Option(names = "--webhooks", defaultValue = "100", description = "Jobs whose completion webhook is timed (default: ${DEFAULT-VALUE})")
    int webhooks;

    record Row(String db, String what, double perSecond, double p50, double p99, double max, int errors) { }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path home = Files.createTempDirectory("canopy-bench-server");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(home.resolve("surveys/demo"))) {
            g.generate(SurveySpec.of(24, 64, 7), s, ProgressListener.NONE);
        }
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(home.resolve("registry")), home.resolve("cache"), Clock.systemUTC());
        registry.registerUntrained("weeds", Architecture.SMALL_CNN, 32, 1);
        registry.promote("weeds", 1, "production");
        List<Row> rows = new ArrayList<>();
        rows.addAll(measure("embedded", Database.embedded(home.resolve("db")), null, home, registry, out));
        if (!dbUrl.equals("none")) {
            String schema = "canopy_bench_" + Long.toHexString(System.nanoTime());
            Database server;
            try {
                server = Database.connect(dbUrl, System.getProperty("user.name"), System.getenv("CANOPY_DB_PASSWORD"), schema);
            } catch (RuntimeException e) {
                out.printf("PostgreSQL server skipped: %s%n", e.getMessage());
                server = null;
            }
            if (server != null) rows.addAll(measure("postgresql", server, schema, home, registry, out));
        }
        out.printf("%n%-11s %-28s %10s %9s %9s %9s %7s%n", "database", "measure", "per second", "p50 ms", "p99 ms", "max ms", "errors");
        for (Row r : rows) {
            out.printf(Locale.ROOT, "%-11s %-28s %10.0f %9.2f %9.2f %9.2f %7d%n", r.db, r.what, r.perSecond, r.p50, r.p99, r.max, r.errors);
        }
        out.printf("%nconcurrency %d, %d HTTP worker threads, %d requests per line, %d webhooks timed, %d cores%n", concurrency, httpThreads, requests,
                webhooks, Runtime.getRuntime().availableProcessors());
        out.println("targets: GET p99 <= 10 ms; >= 1,000 submissions/s on PostgreSQL at concurrency 16; webhook delivered <= 1 s after completion");
        for (Row r : rows) {
            if (r.what.startsWith("GET")) out.printf("  %-11s GET p99 %.2f ms: %s%n", r.db, r.p99, r.p99 <= 10 ? "met" : "missed");
            if (r.what.startsWith("POST")) out.printf("  %-11s %.0f submissions/s: %s%n", r.db, r.perSecond, r.perSecond >= 1000 ? "met" : "missed");
            if (r.what.startsWith("webhook")) out.printf("  %-11s webhook p99 %.0f ms after completion: %s%n", r.db, r.p99, r.p99 <= 1000 ? "met" : "missed");
        }
        return 0;
    }

    private List<Row> measure(String name, Database db, String schema, Path home, ModelRegistry registry, PrintWriter out) throws Exception {
        ControlSettings st = ControlSettings.defaults(home).withPort(0).withMaxRunningJobs(0).withRateLimit(0).withHttpThreads(httpThreads)
                .withAllowCallbacks(List.of("127.0.0.1"));
        DbTokens tokens = new DbTokens(db.dataSource(), Clock.systemUTC());
        String token = tokens.create("bench", EnumSet.of(Scope.READ, Scope.PREDICT), null, "bench");
        List<Row> rows = new ArrayList<>();
        ExecutorService clients = Executors.newFixedThreadPool(concurrency);
        // the client keeps its own executor: sharing the callers' pool would deadlock once every caller waits in send()
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (ControlServer server = ControlServer.start(db.dataSource(), tokens, registry, st, Clock.systemUTC())) {
            String base = "http://127.0.0.1:" + server.port();
            String area = String.format(Locale.ROOT, "{\"type\":\"Polygon\",\"coordinates\":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}",
                    SurveySpec.DEFAULT_ORIGIN_LON, SurveySpec.DEFAULT_ORIGIN_LAT - 0.0001, SurveySpec.DEFAULT_ORIGIN_LON + 0.0001,
                    SurveySpec.DEFAULT_ORIGIN_LAT - 0.0001, SurveySpec.DEFAULT_ORIGIN_LON + 0.0001, SurveySpec.DEFAULT_ORIGIN_LAT,
                    SurveySpec.DEFAULT_ORIGIN_LON, SurveySpec.DEFAULT_ORIGIN_LAT - 0.0001);
            String body = "{\"survey\":\"demo\",\"model\":\"weeds@production\",\"area\":" + area + "}";
            IntFunction<HttpRequest> post = i -> HttpRequest.newBuilder(URI.create(base + "/v1/predictions")).header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json").header("Idempotency-Key", name + "-" + System.nanoTime() + "-" + i)
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            run(http, clients, post, Math.min(300, requests), 202); // warm up: JIT, connection pools
            String id = com.fasterxml.jackson.databind.json.JsonMapper.builder().build()
                    .readTree(http.send(post.apply(-1), HttpResponse.BodyHandlers.ofString()).body()).get("id").asText();
            IntFunction<HttpRequest> get = i -> HttpRequest.newBuilder(URI.create(base + "/v1/jobs/" + id)).header("Authorization", "Bearer " + token).GET().build();
            run(http, clients, get, Math.min(300, requests), 200);
            rows.add(row(name, "GET /v1/jobs/{id}", run(http, clients, get, requests, 200)));
            rows.add(row(name, "POST /v1/predictions (accept)", run(http, clients, post, requests, 202)));
            rows.add(webhookDelay(name, base, token, http, post));
            out.printf("%s: measured%n", name);
            out.flush();
        } finally {
            clients.shutdownNow();
            if (schema != null) {
                try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
                    s.execute("DROP SCHEMA " + schema + " CASCADE");
                }
            }
            db.close();
        }
        return rows;
    }

    /** Results of a closed loop: [elapsed nanos, errors, latencies in nanos...]. */
    private long[] run(HttpClient http, ExecutorService clients, IntFunction<HttpRequest> request, int n, int expected) throws Exception {
        long[] lat = new long[n];
        AtomicInteger next = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        long t0 = System.nanoTime();
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < concurrency; c++) {
            fs.add(clients.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < n; ) {
                    long s = System.nanoTime();
                    try {
                        if (http.send(request.apply(i), HttpResponse.BodyHandlers.discarding()).statusCode() != expected) errors.incrementAndGet();
                    } catch (Exception e) {
                        errors.incrementAndGet();
                    }
                    lat[i] = System.nanoTime() - s;
                }
                return null;
            }));
        }
        for (Future<?> f : fs) f.get();
        long elapsed = System.nanoTime() - t0;
        long[] outArr = new long[n + 2];
        outArr[0] = elapsed;
        outArr[1] = errors.get();
        System.arraycopy(lat, 0, outArr, 2, n);
        return outArr;
    }

    private static Row row(String db, String what, long[] r) {
        long[] lat = Arrays.copyOfRange(r, 2, r.length);
        Arrays.sort(lat);
        return new Row(db, what, lat.length / (r[0] / 1e9), pct(lat, 0.5) / 1e6, pct(lat, 0.99) / 1e6, lat[lat.length - 1] / 1e6, (int) r[1]);
    }

    private static double pct(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    /** Jobs ended one after another (queued, then cancelled); the delay from the cancel's answer to the verified delivery. */
    private Row webhookDelay(String db, String base, String token, HttpClient http, IntFunction<HttpRequest> post) throws Exception {
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        var mapper = com.fasterxml.jackson.databind.json.JsonMapper.builder().build();
        HttpResponse<String> sub = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/webhooks")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"url\":\"http://127.0.0.1:" + port + "/\",\"event_types\":[\"job.cancelled\"]}")).build(), HttpResponse.BodyHandlers.ofString());
        String secret = mapper.readTree(sub.body()).get("secret").asText();
        Map<String, Long> arrived = new ConcurrentHashMap<>();
        Map<String, Long> ended = new ConcurrentHashMap<>();
        int errors = 0;
        try (WebhookListener l = WebhookListener.start("127.0.0.1", port, secret, e -> {
            arrived.put(e.data().path("job_id").asText(), System.nanoTime());
            return 204;
        })) {
            for (int i = 0; i < webhooks; i++) {
                String id = mapper.readTree(http.send(post.apply(1_000_000 + i), HttpResponse.BodyHandlers.ofString()).body()).get("id").asText();
                HttpResponse<Void> c = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs/" + id + "/cancel")).header("Authorization", "Bearer " + token)
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
                ended.put(id, System.nanoTime());
                if (c.statusCode() != 202) errors++;
                Thread.sleep(20); // one completion at a time, as jobs end in practice
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (arrived.size() < ended.size() && System.nanoTime() < deadline) Thread.sleep(20);
        }
        long[] lat = ended.entrySet().stream().filter(e -> arrived.containsKey(e.getKey())).mapToLong(e -> arrived.get(e.getKey()) - e.getValue()).sorted().toArray();
        errors += ended.size() - lat.length;
        if (lat.length == 0) return new Row(db, "webhook after completion", 0, Double.NaN, Double.NaN, Double.NaN, errors);
        return new Row(db, "webhook after completion", 0, pct(lat, 0.5) / 1e6, pct(lat, 0.99) / 1e6, lat[lat.length - 1] / 1e6, errors);
    }
}
