package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.ProgressListener;
import dev.canopy.client.CanopyClient;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Predictions on a cluster through {@code canopy server} (a real process): cold (a driver process with --cluster),
 * then on a warm pool (a warm driver process that takes the job from the queue and runs it in its application),
 * the warm driver killed with SIGKILL in the middle of a job (the server takes the job over and finishes it cold,
 * every tile once), the pool emptied (its process exits), and a prediction for a stopped or unknown cluster refused.
 */
@Timeout(600)
class WarmPoolTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    @TempDir
    Path tmp;
    Process server;

    MainTest.Result cli(String... args) {
        return MainTest.runIn(tmp.resolve("home"), args);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (server != null) {
            server.destroyForcibly();
            server.waitFor();
        }
        cli("cluster", "delete", "pool");
        ServerProcess.killAllUnder(tmp);
    }

    JsonNode call(ServerProcess s, String token, String method, String path, String body, int expect) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.base() + path)).header("Authorization", "Bearer " + token).timeout(Duration.ofMinutes(2))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isEqualTo(expect);
        return dev.canopy.api.Json.MAPPER.readTree(r.body());
    }

    static List<ProcessHandle> warmDrivers(Path home) {
        return ProcessHandle.allProcesses().filter(h -> h.info().arguments().map(a -> {
            List<String> l = List.of(a);
            return l.contains("warm-driver") && l.contains(home.toString());
        }).orElse(false)).toList();
    }

    @Test
    void predictionsRunColdThenWarmAndSurviveTheirWarmDriverKilled() throws Exception {
        Path home = tmp.resolve("home");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(home.resolve("surveys/demo"))) {
            g.generate(SurveySpec.of(1500, 64, 5), out, ProgressListener.NONE);
        }
        ModelRegistry r = new ModelRegistry(new FileObjectStore(home.resolve("registry")), tmp.resolve("cache"), Clock.systemUTC());
        r.registerUntrained("weeds", Architecture.SMALL_CNN, 64, 1);
        r.promote("weeds", 1, "production");
        ServerProcess s = ServerProcess.start(home);
        server = s.process();
        String admin = cli("token", "create", "--team", "ops", "--scopes", "read,predict,admin").out().trim();
        CanopyClient c = s.client(admin);
        String area = ControlPlaneTest.wholeSurvey(c);
        String body = "{\"survey\": \"demo\", \"model\": \"weeds@production\", \"cluster\": \"pool\", \"area\": " + area + "}";

        JsonNode unknown = call(s, admin, "POST", "/v1/predictions", body, 404);
        assertThat(unknown.get("code").asText()).isEqualTo("cluster_not_found");
        call(s, admin, "POST", "/v1/clusters", "{\"name\": \"pool\", \"workers\": 2}", 201);
        await().atMost(Duration.ofSeconds(90)).until(() -> call(s, admin, "GET", "/v1/clusters/pool", null, 200).get("workers_alive").asInt() == 2);

        // cold: a driver process of its own, on the cluster
        JsonNode cold = c.waitFor(call(s, admin, "POST", "/v1/predictions", body, 202).get("id").asText(), Duration.ofMinutes(4), j -> { });
        String coldLog = c.logs(cold.get("id").asText(), 0)[0];
        assertThat(cold.get("status").asText()).as(coldLog).isEqualTo("succeeded");
        assertThat(coldLog).contains("--cluster pool").doesNotContain("warm application");

        // warm: the pool's driver takes the job and runs it in its application
        call(s, admin, "POST", "/v1/clusters/pool/warm-pool", "{\"size\": 1, \"idle_timeout_s\": 300}", 200);
        await().atMost(Duration.ofMinutes(2)).until(() -> call(s, admin, "GET", "/v1/clusters/pool", null, 200).get("warm_pool").get("ready").asInt() == 1);
        assertThat(warmDrivers(home)).hasSize(1);
        JsonNode warm = c.waitFor(call(s, admin, "POST", "/v1/predictions", body, 202).get("id").asText(), Duration.ofMinutes(4), j -> { });
        String warmLog = c.logs(warm.get("id").asText(), 0)[0];
        assertThat(warm.get("status").asText()).as(warmLog).isEqualTo("succeeded");
        assertThat(warmLog).contains("warm driver", "runs it on the warm application app-");
        assertThat(warm.get("result").get("tiles").asLong()).isEqualTo(cold.get("result").get("tiles").asLong());
        assertThat(call(s, admin, "GET", "/v1/clusters/pool", null, 200).get("warm_pool").get("jobs_run").asInt()).isEqualTo(1);

        // the warm driver dies mid-job: its lease runs out, the server takes the job over and resumes it cold
        String id = call(s, admin, "POST", "/v1/predictions", body, 202).get("id").asText();
        await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(50)).until(() -> c.job(id).get("status").asText().equals("running"));
        List<ProcessHandle> victims = warmDrivers(home);
        assertThat(victims).hasSize(1);
        victims.get(0).destroyForcibly();
        victims.get(0).onExit().join();
        JsonNode resumed = c.waitFor(id, Duration.ofMinutes(4), j -> { });
        String resumedLog = c.logs(id, 0)[0];
        assertThat(resumed.get("status").asText()).as(resumedLog).isEqualTo("succeeded");
        assertThat(resumedLog).as("the warm driver started it, a cold driver finished it").contains("runs it on the warm application", "canopy: starting driver");
        assertThat(resumed.get("result").get("tiles").asLong()).isEqualTo(cold.get("result").get("tiles").asLong());
        try (java.sql.Connection db = java.sql.DriverManager.getConnection("jdbc:duckdb:");
             java.sql.ResultSet rs = db.createStatement().executeQuery("SELECT count(*), count(DISTINCT id) FROM read_parquet('"
                     + home.resolve("jobs").resolve(id).resolve("output/shards") + "/*.parquet')")) {
            rs.next();
            assertThat(rs.getLong(1)).as("every tile once after the take-over").isEqualTo(resumed.get("result").get("tiles").asLong());
            assertThat(rs.getLong(2)).isEqualTo(rs.getLong(1));
        }

        // a new warm driver, then the pool emptied: its process exits by itself
        call(s, admin, "POST", "/v1/clusters/pool/warm-pool", "{\"size\": 1}", 200);
        await().atMost(Duration.ofMinutes(2)).until(() -> call(s, admin, "GET", "/v1/clusters/pool", null, 200).get("warm_pool").get("ready").asInt() == 1);
        call(s, admin, "POST", "/v1/clusters/pool/warm-pool", "{\"size\": 0}", 200);
        await().atMost(Duration.ofSeconds(30)).until(() -> warmDrivers(home).isEmpty());

        // stopping the cluster takes its warm pool down first
        call(s, admin, "POST", "/v1/clusters/pool/warm-pool", "{\"size\": 1}", 200);
        await().atMost(Duration.ofMinutes(2)).until(() -> call(s, admin, "GET", "/v1/clusters/pool", null, 200).get("warm_pool").get("ready").asInt() == 1);
        call(s, admin, "POST", "/v1/clusters/pool/stop", null, 200);
        await().atMost(Duration.ofSeconds(30)).until(() -> warmDrivers(home).isEmpty());
        JsonNode stopped = call(s, admin, "POST", "/v1/predictions", body, 409);
        assertThat(stopped.get("code").asText()).isEqualTo("cluster_not_running");
        assertThat(call(s, admin, "POST", "/v1/clusters/pool/warm-pool", "{\"size\": 1}", 409).get("code").asText()).isEqualTo("not_running");

        // the control plane's record of the cluster: who made it, what happened to it, kept after it is deleted
        assertThat(call(s, admin, "GET", "/v1/clusters/pool", null, 200).get("created_by").asText()).startsWith("token:");
        c.clusters().delete("pool"); // the Java SDK, as code would
        call(s, admin, "GET", "/v1/clusters/pool", null, 404);
        try (dev.canopy.control.Database db = dev.canopy.control.Database.embeddedOrRunning(home.resolve("db"));
             java.sql.Connection conn = db.dataSource().getConnection()) {
            try (java.sql.ResultSet rs = conn.createStatement().executeQuery("SELECT state, deleted_at IS NOT NULL, spec->>'workers' FROM clusters WHERE name = 'pool'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("DELETED");
                assertThat(rs.getBoolean(2)).isTrue();
                assertThat(rs.getString(3)).isEqualTo("2");
            }
            List<String> actions = new java.util.ArrayList<>();
            try (java.sql.ResultSet rs = conn.createStatement().executeQuery("SELECT action FROM audit_log WHERE subject = 'pool' ORDER BY id")) {
                while (rs.next()) actions.add(rs.getString(1));
            }
            assertThat(actions).containsExactly("cluster.create", "cluster.stop", "cluster.delete");
        }
    }
}
