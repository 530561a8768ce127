package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.api.ProgressListener;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.control.ControlServer;
import dev.canopy.control.ControlSettings;
import dev.canopy.control.Database;
import dev.canopy.control.DbTokens;
import dev.canopy.control.DriverCommand;
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
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code canopy bench cluster}: in one run, on this host, through a real control plane (embedded database, its own
 * temporary home): a cluster created through the API until its master answers and its workers are alive; a prediction
 * on it cold (a driver process, a new Spark application, executors started for it); the warm pool made ready; then
 * the same prediction twice on the warm pool (the first loads the model into the executors, the second finds it).
 * "First tile" is when the job's progress file first counts a predicted tile (written about once a second, so each
 * figure is up to about a second late, the same for every line).
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Cluster create -> ready, a prediction cold vs on a warm pool (submit -> first tile, submit -> done); targets: warm >= 5x faster, first tile <= 3 s warm.")
final class BenchCluster implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Option(names = "--workers", defaultValue = "2", description = "Workers (default: ${DEFAULT-VALUE})")
    int workers;
    @Option(names = "--tiles", defaultValue = "2000", description = "Survey tiles; the prediction covers about a quarter of them (default: ${DEFAULT-VALUE})")
    int tiles;

    record Timing(String what, double firstTile, double done, long tiles) { }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path home = Files.createTempDirectory("canopy-bench-cluster");
        out.println("home " + home + " (deleted at the end)");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(home.resolve("surveys/demo"))) {
            g.generate(SurveySpec.of(tiles, 64, 7), s, ProgressListener.NONE);
        }
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(home.resolve("registry")), home.resolve("cache/models"), Clock.systemUTC());
        registry.registerUntrained("weeds", Architecture.SMALL_CNN, 64, 1);
        registry.promote("weeds", 1, "production");
        ControlSettings st = ControlSettings.defaults(home).withPort(0).withMaxRunningJobs(2).withRateLimit(0).withTick(Duration.ofMillis(200))
                .withDriver(DriverCommand.sameJvm(List.of("-Xmx1g"), null));
        HttpClient http = HttpClient.newHttpClient();
        List<String[]> table = new ArrayList<>();
        List<Timing> jobs = new ArrayList<>();
        try (Database db = Database.embedded(home.resolve("db"))) {
            DbTokens tokens = new DbTokens(db.dataSource(), Clock.systemUTC());
            String token = tokens.create("bench", EnumSet.allOf(Scope.class), null, "bench");
            try (ControlServer server = ControlServer.start(db.dataSource(), tokens, registry, st, Clock.systemUTC())) {
                Api api = new Api(http, "http://127.0.0.1:" + server.port(), token);
                try {
                    long t0 = System.nanoTime();
                    api.send("POST", "/v1/clusters", "{\"name\": \"bench\", \"workers\": " + workers + "}", 201);
                    double masterUp = secondsSince(t0);
                    waitFor(() -> api.send("GET", "/v1/clusters/bench", null, 200).get("workers_alive").asInt() == workers, Duration.ofMinutes(2));
                    double ready = secondsSince(t0);
                    table.add(new String[] {"cluster create -> master answers", fmt(masterUp)});
                    table.add(new String[] {"cluster create -> " + workers + " workers alive", fmt(ready)});
                    String area = quarter(api.send("GET", "/v1/surveys/demo", null, 200).get("extent"));
                    jobs.add(predict(api, home, "cold (driver process, new application)", area));
                    t0 = System.nanoTime();
                    api.send("POST", "/v1/clusters/bench/warm-pool", "{\"size\": 1, \"idle_timeout_s\": 120}", 200);
                    waitFor(() -> api.send("GET", "/v1/clusters/bench", null, 200).get("warm_pool").get("ready").asInt() >= 1, Duration.ofMinutes(2));
                    table.add(new String[] {"warm pool of 1 -> ready", fmt(secondsSince(t0))});
                    jobs.add(predict(api, home, "warm, first job (model loads)", area));
                    jobs.add(predict(api, home, "warm, second job", area));
                } finally {
                    try {
                        api.send("POST", "/v1/clusters/bench/warm-pool", "{\"size\": 0}", 200);
                        Thread.sleep(2000); // the warm driver sees its row gone and exits
                    } catch (RuntimeException ignored) {
                        // no pool
                    }
                    try {
                        api.send("POST", "/v1/clusters/bench/stop", null, 200);
                    } catch (RuntimeException ignored) {
                        // no cluster
                    }
                    server.stopDrivers();
                }
            }
        } finally {
            // a warm driver still starting or busy does not see its row go at once: none may outlive the benchmark's home
            ProcessHandle.allProcesses().filter(h -> h.info().arguments().map(a -> List.of(a).contains("warm-driver") && List.of(a).contains(home.toString()))
                    .orElse(false)).forEach(h -> {
                        h.destroyForcibly();
                        h.onExit().orTimeout(15, java.util.concurrent.TimeUnit.SECONDS).exceptionally(t -> h).join();
                    });
            ClusterCommand.provider(benchMain(home)).delete("bench");
            dev.canopy.storage.LocalFiles.deleteQuietly(home);
        }
        out.printf("%n%-44s %10s%n", "step", "seconds");
        for (String[] r : table) out.printf("%-44s %10s%n", r[0], r[1]);
        out.printf("%n%-44s %8s %16s %16s%n", "prediction on the cluster", "tiles", "submit->1st tile", "submit->done");
        for (Timing t : jobs) out.printf(Locale.ROOT, "%-44s %8d %16.2f %16.2f%n", t.what, t.tiles, t.firstTile, t.done);
        Timing cold = jobs.get(0), warm = jobs.get(jobs.size() - 1);
        double ratio = cold.firstTile / warm.firstTile;
        out.printf(Locale.ROOT, "%nwarm vs cold, submit -> first tile: %.1fx faster (target >= 5x: %s); warm first tile %.2f s (target <= 3 s: %s)%n", ratio,
                ratio >= 5 ? "met" : "missed", warm.firstTile, warm.firstTile <= 3 ? "met" : "missed");
        out.printf(Locale.ROOT, "warm vs cold, submit -> done: %.1fx faster%n", cold.done / warm.done);
        out.printf("%d cores on this host; the cluster: %d workers of 1 core and 1 GB, on 127.0.0.1%n", Runtime.getRuntime().availableProcessors(), workers);
        return 0;
    }

    private static Main benchMain(Path home) {
        Main m = new Main();
        m.home = home;
        return m;
    }

    /** Submits the prediction and follows the job's own progress file until a tile is predicted, then the job until it ends. */
    private static Timing predict(Api api, Path home, String what, String area) throws Exception {
        long t0 = System.nanoTime();
        JsonNode job = api.send("POST", "/v1/predictions", "{\"survey\": \"demo\", \"model\": \"weeds@production\", \"cluster\": \"bench\", \"area\": " + area + "}", 202);
        String id = job.get("id").asText();
        Path progress = home.resolve("jobs").resolve(id).resolve("output/progress.json");
        double first = Double.NaN;
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (Double.isNaN(first) && Files.exists(progress)) {
                try {
                    if (Json.MAPPER.readTree(progress.toFile()).path("tilesDone").asLong(0) > 0) first = secondsSince(t0);
                } catch (java.io.IOException beingRewritten) {
                    // read again next time
                }
            }
            JsonNode j = api.send("GET", "/v1/jobs/" + id, null, 200);
            String status = j.get("status").asText();
            if (status.equals("succeeded")) {
                double done = secondsSince(t0);
                return new Timing(what, Double.isNaN(first) ? done : first, done, j.get("result").get("tiles").asLong());
            }
            if (status.equals("failed") || status.equals("cancelled")) throw new IllegalStateException("job " + id + " " + status + ": " + j.path("error").asText());
            Thread.sleep(50);
        }
        throw new IllegalStateException("job " + id + " did not end within 5 minutes");
    }

    /** The south-west quarter of the survey's extent, as a GeoJSON polygon. */
    static String quarter(JsonNode e) {
        double x0 = e.get(0).asDouble(), y0 = e.get(1).asDouble(), x1 = (x0 + e.get(2).asDouble()) / 2, y1 = (y0 + e.get(3).asDouble()) / 2;
        return String.format(Locale.ROOT, "{\"type\":\"Polygon\",\"coordinates\":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}", x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void waitFor(Check c, Duration max) throws Exception {
        long end = System.nanoTime() + max.toNanos();
        while (!c.ok()) {
            if (System.nanoTime() > end) throw new IllegalStateException("not ready within " + max);
            Thread.sleep(100);
        }
    }

    private static double secondsSince(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static String fmt(double s) {
        return String.format(Locale.ROOT, "%.2f", s);
    }

    private record Api(HttpClient http, String base, String token) {
        JsonNode send(String method, String path, String body, int expect) throws Exception {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token).timeout(Duration.ofMinutes(2))
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            if (body != null) b.header("Content-Type", "application/json");
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != expect) throw new IllegalStateException(method + " " + path + ": " + r.statusCode() + " " + r.body());
            return Json.MAPPER.readTree(r.body());
        }
    }
}
