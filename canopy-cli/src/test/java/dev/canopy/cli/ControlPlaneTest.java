package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.ProgressListener;
import dev.canopy.client.CanopyClient;
import dev.canopy.client.WebhookListener;
import dev.canopy.client.WebhookVerifier;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane as users run it: {@code canopy server} as a real process on the embedded database, a token
 * made by {@code canopy token create} while it runs, predictions whose jobs run as real driver processes
 * (batch inference on Spark local[*]), signed webhooks to real receivers, and a server killed with SIGKILL
 * mid-job and started again.
 */
class ControlPlaneTest {
    @TempDir
    Path tmp;
    final List<Process> servers = new ArrayList<>();
    Path home;

    void prepareHome() {
        prepareHome(48);
    }

    void prepareHome(int tiles) {
        home = tmp.resolve("home");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(home.resolve("surveys/demo"))) {
            g.generate(SurveySpec.of(tiles, 64, 11), out, ProgressListener.NONE);
        }
        ModelRegistry r = new ModelRegistry(new FileObjectStore(home.resolve("registry")), tmp.resolve("cache"), Clock.systemUTC());
        r.registerUntrained("weeds", Architecture.SMALL_CNN, 32, 1);
        r.promote("weeds", 1, "production");
    }

    ServerProcess startServer(String... extra) throws Exception {
        ServerProcess s = ServerProcess.start(home, extra);
        servers.add(s.process());
        return s;
    }

    String token(String team, String scopes) {
        MainTest.Result made = MainTest.runIn(home, "token", "create", "--team", team, "--scopes", scopes);
        assertThat(made.code()).as(made.err()).isZero();
        return made.out().trim();
    }

    /** A polygon around the whole survey, from its extent as the server reports it. */
    static String wholeSurvey(CanopyClient c) {
        JsonNode e = c.surveys().get("items").get(0).get("extent");
        double pad = 0.00001;
        double x0 = e.get(0).asDouble() - pad, y0 = e.get(1).asDouble() - pad, x1 = e.get(2).asDouble() + pad, y1 = e.get(3).asDouble() + pad;
        return String.format(Locale.ROOT, "{\"type\":\"Polygon\",\"coordinates\":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}", x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (Process p : servers) {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        // drivers outlive a killed server by design: stop this test's
        ServerProcess.killAllUnder(home);
    }

    @Test
    void aPredictionRunsAsADriverProcessAndItsSignedWebhooksArriveOnce() throws Exception {
        prepareHome();
        ServerProcess s = startServer();
        String token0 = token("field-team", "read,predict");
        CanopyClient c = s.client(token0);
        List<WebhookVerifier.Event> subscribed = Collections.synchronizedList(new ArrayList<>());
        try (WebhookListener hooks = listenerFor(c, subscribed)) {
            String area = wholeSurvey(c);
            JsonNode job = c.predict("demo", area, "weeds@production", null, "first-request");
            String id = job.get("id").asText();
            assertThat(c.predict("demo", area, "weeds@production", null, "first-request").get("id").asText()).as("idempotent").isEqualTo(id);
            JsonNode done = c.waitFor(id, Duration.ofMinutes(5), j -> { });
            assertThat(done.get("status").asText()).as(done.toString() + "\n" + c.logs(id, 0)[0]).isEqualTo("succeeded");
            JsonNode r = done.get("result");
            assertThat(r.get("tiles").asLong()).isEqualTo(48);
            assertThat(r.get("errors").asLong()).isZero();
            double percent = 0, hectares = 0;
            for (JsonNode cl : r.get("cover")) {
                percent += cl.get("percent").asDouble();
                hectares += cl.get("hectares").asDouble();
            }
            assertThat(percent).isCloseTo(100, org.assertj.core.data.Offset.offset(0.1));
            assertThat(hectares).isCloseTo(r.get("area_hectares").asDouble(), org.assertj.core.data.Offset.offset(0.01));
            Path shards = Path.of(URI.create(r.get("geoparquet").asText()));
            try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
                 ResultSet rs = db.createStatement().executeQuery("SELECT count(*), count(DISTINCT id) FROM read_parquet('" + shards + "/*.parquet')")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(48);
                assertThat(rs.getLong(2)).isEqualTo(48);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> types(subscribed, id).containsAll(List.of("job.started", "job.succeeded")));
            assertThat(types(subscribed, id)).containsExactly("job.started", "job.succeeded");

            // the rows inline as GeoJSON, a page at a time, every tile once
            java.util.Set<String> featureIds = new java.util.HashSet<>();
            String cursor = "";
            int pages = 0;
            do {
                JsonNode fc = raw(s, token0, "/v1/jobs/" + id + "/features?limit=20" + (cursor.isEmpty() ? "" : "&cursor=" + cursor));
                assertThat(fc.get("type").asText()).isEqualTo("FeatureCollection");
                fc.get("features").forEach(x -> {
                    assertThat(x.get("geometry").get("type").asText()).isEqualTo("Polygon");
                    assertThat(x.get("properties").get("top_class").asText()).isNotEmpty();
                    featureIds.add(x.get("id").asText());
                });
                cursor = fc.path("next_cursor").asText("");
                pages++;
            } while (!cursor.isEmpty() && pages < 10);
            assertThat(featureIds).hasSize(48);
            assertThat(pages).isEqualTo(3);
            // progress as server-sent events: a finished job sends its state and the end, then closes
            java.net.http.HttpResponse<String> sse = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + s.port() + "/v1/jobs/" + id + "/events")).header("Authorization", "Bearer " + token0)
                    .header("Accept", "text/event-stream")
                    .timeout(Duration.ofSeconds(30)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(sse.headers().firstValue("content-type").orElse("")).as(sse.statusCode() + " " + sse.body()).startsWith("text/event-stream");
            assertThat(sse.body()).contains("event: job").contains("event: end").contains("succeeded");

            MainTest.Result shown = MainTest.run("jobs", "show", id, "--server", "http://127.0.0.1:" + s.port(), "--token-file", tokenFile(c));
            assertThat(shown.out()).contains("succeeded").contains("geoparquet");
            assertThat(c.logs(id, 0)[0]).contains("starting driver");
        }
    }

    private static JsonNode raw(ServerProcess s, String token, String path) throws Exception {
        java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + s.port() + path)).header("Authorization", "Bearer " + token).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return dev.canopy.api.Json.MAPPER.readTree(r.body());
    }

    private String tokenFile(CanopyClient unused) throws Exception {
        Path f = tmp.resolve("token");
        if (!Files.exists(f)) Files.writeString(f, token("field-team", "read,predict"));
        return f.toString();
    }

    private static List<String> types(List<WebhookVerifier.Event> events, String jobId) {
        List<String> out = new ArrayList<>();
        synchronized (events) {
            for (WebhookVerifier.Event e : events) if (e.data().path("job_id").asText().equals(jobId)) out.add(e.type());
        }
        return out;
    }

    /** A receiver on a free port subscribed to every event type of the token's team. */
    private static WebhookListener listenerFor(CanopyClient c, List<WebhookVerifier.Event> into) throws Exception {
        // the secret comes with the subscription, which names the port: probe a free port, subscribe, then bind it; another
        // process (the other test JVM) may take the port in between, so try again on a fresh one (the stale subscription only fails)
        for (int attempt = 1; ; attempt++) {
            int port;
            try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
                port = probe.getLocalPort();
            }
            JsonNode sub = c.subscribe("http://127.0.0.1:" + port + "/", List.of());
            try {
                return WebhookListener.start("127.0.0.1", port, sub.get("secret").asText(), e -> {
                    into.add(e);
                    return 200;
                });
            } catch (java.net.BindException taken) {
                if (attempt == 5) throw taken;
            }
        }
    }

    @Test
    void aServerKilledMidJobLosesNothingWhenStartedAgain() throws Exception {
        prepareHome();
        ServerProcess first = startServer("--max-running-jobs", "1");
        String token = token("ops", "read,predict");
        CanopyClient c = first.client(token);
        List<WebhookVerifier.Event> events = Collections.synchronizedList(new ArrayList<>());
        try (WebhookListener hooks = listenerFor(c, events)) {
            String area = wholeSurvey(c);
            String running = c.predict("demo", area, "weeds@production", null, null).get("id").asText();
            String queued = c.predict("demo", area, "weeds@production", null, null).get("id").asText();
            await().atMost(Duration.ofSeconds(60)).until(() -> c.job(running).get("status").asText().equals("running"));
            assertThat(c.job(queued).get("status").asText()).isEqualTo("queued");
            first.process().destroyForcibly(); // SIGKILL: no shutdown hook, the lease is not released
            first.process().waitFor(30, TimeUnit.SECONDS);

            ServerProcess second = startServer("--max-running-jobs", "1");
            CanopyClient c2 = second.client(token);
            JsonNode a = c2.waitFor(running, Duration.ofMinutes(5), j -> { });
            JsonNode b = c2.waitFor(queued, Duration.ofMinutes(5), j -> { });
            assertThat(a.get("status").asText()).as(a + c2.logs(running, 0)[0]).isEqualTo("succeeded");
            assertThat(b.get("status").asText()).as(b.toString()).isEqualTo("succeeded");
            for (String id : List.of(running, queued)) {
                Path shards = Path.of(URI.create(c2.job(id).get("result").get("geoparquet").asText()));
                try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
                     ResultSet rs = db.createStatement().executeQuery("SELECT count(*), count(DISTINCT id) FROM read_parquet('" + shards + "/*.parquet')")) {
                    rs.next();
                    assertThat(rs.getLong(1)).as("rows of " + id).isEqualTo(48);
                    assertThat(rs.getLong(2)).isEqualTo(48);
                }
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> types(events, running).contains("job.succeeded") && types(events, queued).contains("job.succeeded"));
            assertThat(types(events, running)).containsOnlyOnce("job.succeeded");
            assertThat(types(events, queued)).containsOnlyOnce("job.succeeded");
        }
    }

    @Test
    void aRunningJobIsCancelledAndItsDriverStops() throws Exception {
        prepareHome();
        ServerProcess s = startServer();
        CanopyClient c = s.client(token("stoppers", "read,predict"));
        String id = c.predict("demo", wholeSurvey(c), "weeds@production", null, null).get("id").asText();
        await().atMost(Duration.ofSeconds(60)).until(() -> c.job(id).get("status").asText().equals("running"));
        c.cancel(id);
        JsonNode j = c.waitFor(id, Duration.ofMinutes(2), x -> { });
        // a job that finished before the cancel arrived is a legitimate outcome on a fast machine; most runs cancel it
        assertThat(j.get("status").asText()).isIn("cancelled", "succeeded");
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().arguments().map(a -> String.join(" ", a).contains("-Dcanopy.job=" + id)).orElse(false))
                .count()).as("no driver left").isZero();
    }

    /**
     * Retraining end to end on a generated survey labelled from its ground truth: a candidate that cannot beat
     * production by the (impossible) margin is rejected and production stays; one that must win is promoted,
     * and a roll back returns production to the version before.
     */
    @Test
    void retrainingGatesTheCandidateAgainstProduction() throws Exception {
        prepareHome(1024);
        ServerProcess s = startServer();
        String adminToken = token("ecology", "read,train,admin");
        CanopyClient c = s.client(adminToken);
        com.fasterxml.jackson.databind.node.ArrayNode labels = dev.canopy.api.Json.MAPPER.createArrayNode();
        try (FileObjectStore survey = new FileObjectStore(home.resolve("surveys/demo"));
             var rows = dev.canopy.imagery.Manifest.open(survey).rows()) {
            rows.forEach(r -> labels.addObject().put("tile_id", r.id()).put("class", r.dominantClass()).put("annotator", "ana")
                    .put("time", "2026-03-02T10:00:00Z"));
        }
        assertThat(c.ingestLabels("demo", labels).get("stored").asInt()).isEqualTo(1024);

        com.fasterxml.jackson.databind.node.ObjectNode req = dev.canopy.api.Json.MAPPER.createObjectNode().put("model", "weeds").put("survey", "demo")
                .put("margin", 1.0).put("block_size", 8);
        req.putObject("labels").put("annotator", "ana");
        req.putObject("budget").put("trials", 2).put("epochs", 1);
        JsonNode rejected = c.waitFor(c.retrain(req, null).get("id").asText(), Duration.ofMinutes(10), j -> { });
        assertThat(rejected.get("status").asText()).as(rejected.toString() + c.logs(rejected.get("id").asText(), 0)[0]).isEqualTo("succeeded");
        JsonNode r1 = rejected.get("result");
        assertThat(r1.get("decision").asText()).isEqualTo("reject");
        assertThat(r1.get("stages")).extracting(x -> x.get("stage").asText())
                .containsExactly("export", "features", "selection", "training", "validation", "registration");
        JsonNode split = r1.get("stages").get(1).get("detail").get("split");
        assertThat(split.get("train").asInt()).isPositive();
        assertThat(split.get("test").asInt()).isPositive();
        assertThat(split.get("ring").asInt()).as("block borders are left out of training").isPositive();
        JsonNode model = c.model("weeds");
        assertThat(model.get("versions").get(0).get("stage").asText()).as("production untouched").isEqualTo("production");
        assertThat(model.get("versions").get(1).get("approval").asText()).isEqualTo("rejected");
        assertThat(model.get("versions").get(1).get("stage").asText()).isEqualTo("none");
        CanopyClient.ApiException again = org.assertj.core.api.Assertions.catchThrowableOfType(CanopyClient.ApiException.class,
                () -> c.approve("weeds", 2, "changed my mind"));
        assertThat(again.code()).isEqualTo("already_decided");

        req.put("margin", -1.0);
        req.put("workers", 0);
        CanopyClient.ApiException noWorkers = org.assertj.core.api.Assertions.catchThrowableOfType(CanopyClient.ApiException.class, () -> c.retrain(req, null));
        assertThat(noWorkers.code()).isEqualTo("bad_field");
        assertThat(noWorkers.getMessage()).contains("workers");
        req.put("workers", 2); // the trials and the final training on 2 data-parallel ranks each
        JsonNode promoted = c.waitFor(c.retrain(req, null).get("id").asText(), Duration.ofMinutes(10), j -> { });
        assertThat(promoted.get("result").get("decision").asText()).as(promoted.toString()).isEqualTo("promote");
        assertThat(promoted.get("result").get("stages").get(3).get("detail").get("config").get("workers").asInt()).isEqualTo(2);
        assertThat(c.logs(promoted.get("id").asText(), 0)[0]).contains("training on 2 data-parallel ranks");
        int v3 = promoted.get("result").get("candidate_version").asInt();
        JsonNode after = c.model("weeds");
        assertThat(after.get("versions").get(v3 - 1).get("stage").asText()).isEqualTo("production");
        assertThat(after.get("versions").get(v3 - 1).get("approval").asText()).isEqualTo("approved");
        assertThat(c.rollback("weeds", "production").get("ref").asText()).isEqualTo("weeds:1");
        // the retrain's tuning, as the dashboard will read it: every trial's curve, the best, the compute saved
        String token = tokenFile(c);
        JsonNode experiments = raw(s, java.nio.file.Files.readString(Path.of(token)).trim(), "/v1/experiments");
        assertThat(experiments.get("items")).isEmpty(); // another team's token: sees none of these retrain jobs
        JsonNode mine = dev.canopy.api.Json.MAPPER.readTree(java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + s.port() + "/v1/experiments/" + rejected.get("id").asText())).header("Authorization", "Bearer " + adminToken)
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body());
        assertThat(mine.get("trials")).hasSize(2);
        assertThat(mine.get("trials").get(0).get("curve").get(0)).hasSize(2);
        assertThat(mine.get("metric").asText()).isEqualTo("val_macro_f1");
        assertThat(mine.get("best_trial").asText()).startsWith("trial-");
        assertThat(c.model("weeds").get("versions").get(0).get("stage").asText()).isEqualTo("production");
    }
}
