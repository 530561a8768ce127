package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers on one PostgreSQL schema share one queue: every job is claimed by exactly one of them and
 * announced once. The drivers here are real processes that fail at once (their class path holds no Canopy),
 * so each job ends as failed with the driver's own error, quickly.
 */
class TwoServersTest {
    @TempDir
    Path tmp;

    @Test
    void everyJobIsClaimedOnceAndAnnouncedOnce() throws Exception {
        Path home = tmp.resolve("home");
        ControlFixture.prepareHome(home);
        String schema = "canopy_test_" + Long.toHexString(System.nanoTime());
        Database a = Database.connect(ControlFixture.SERVER_URL, System.getProperty("user.name"), null, schema);
        Database b = Database.connect(ControlFixture.SERVER_URL, System.getProperty("user.name"), null, schema);
        MutableClock clock = new MutableClock();
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(home.resolve("registry")), home.resolve("cache"), clock);
        DriverCommand failing = new DriverCommand(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(), List.of("-Xmx32m"),
                tmp.resolve("no-such-jar").toString(), DriverCommand.MAIN, null);
        ControlSettings st = ControlSettings.defaults(home).withPort(0).withMaxRunningJobs(3).withRateLimit(0).withTick(Duration.ofMillis(50))
                .withDriver(failing);
        DbTokens tokens = new DbTokens(a.dataSource(), clock);
        String token = tokens.create("queue", EnumSet.of(Scope.PREDICT, Scope.READ), null, "test");
        List<ControlServer> servers = new ArrayList<>();
        try {
            // jobs first, then both servers start claiming at once
            ControlServer first = ControlServer.start(a.dataSource(), tokens, registry, st.withMaxRunningJobs(0), clock);
            servers.add(first);
            ControlFixture.Answer ans = null;
            List<String> ids = new ArrayList<>();
            var http = ControlFixture.HTTP;
            for (int i = 0; i < 16; i++) {
                var r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + first.port() + "/v1/predictions"))
                        .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(ControlFixture.predictionBody(ControlFixture.areaJson(1), null))).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
                ids.add(dev.canopy.api.Json.MAPPER.readTree(r.body()).get("id").asText());
            }
            first.close();
            servers.clear();
            servers.add(ControlServer.start(a.dataSource(), tokens, registry, st, clock));
            servers.add(ControlServer.start(b.dataSource(), new DbTokens(b.dataSource(), clock), registry, st, clock));
            await().atMost(Duration.ofSeconds(120)).until(() -> count(a, "SELECT count(*) FROM jobs WHERE status = 'failed'") == 16);
            assertThat(count(a, "SELECT count(*) FROM jobs WHERE attempts <> 1")).as("each job claimed once").isZero();
            assertThat(count(a, "SELECT count(DISTINCT lease_owner) FROM jobs")).isZero(); // finished jobs hold no lease
            assertThat(count(a, "SELECT count(*) FROM outbox WHERE type = 'job.started'")).isEqualTo(16);
            assertThat(count(a, "SELECT count(*) FROM outbox WHERE type = 'job.failed'")).isEqualTo(16);
            assertThat(count(a, "SELECT count(*) FROM jobs WHERE error IS NULL OR error = ''")).isZero();
        } finally {
            for (ControlServer s : servers) s.close();
            try (Connection c = a.dataSource().getConnection(); Statement s = c.createStatement()) {
                s.execute("DROP SCHEMA " + schema + " CASCADE");
            }
            a.close();
            b.close();
        }
    }

    private static long count(Database db, String sql) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }
}
