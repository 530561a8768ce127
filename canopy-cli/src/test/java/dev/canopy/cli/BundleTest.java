package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.client.CanopyClient;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bundles end to end: built from this build's class path (content-addressed: building again is the same bundle),
 * tagged and marked, a cluster started from one runs exactly its jars, and {@code canopy server --bundle} runs its
 * jobs' drivers from one (their log names it).
 */
@Timeout(600)
class BundleTest {
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
        cli("cluster", "delete", "from-bundle");
        ServerProcess.killAllUnder(tmp);
    }

    static String digestIn(String out) {
        Matcher m = Pattern.compile("bundle\\s+(sha256-[0-9a-f]{64})").matcher(out);
        assertThat(m.find()).as(out).isTrue();
        return m.group(1);
    }

    @Test
    void aBundleIsBuiltOnceTaggedMarkedAndRunByAClusterAndByTheServersDrivers() throws Exception {
        MainTest.Result built = cli("bundle", "build", "--tag", "production");
        assertThat(built.code()).as(built.err()).isZero();
        String digest = digestIn(built.out());
        assertThat(built.out()).contains("status      built  tags production");
        MainTest.Result again = cli("bundle", "build");
        assertThat(digestIn(again.out())).as("the same content is the same bundle").isEqualTo(digest);
        assertThat(again.out()).contains("tags production");
        // every jar stored once, under its own digest, and checked when laid out
        try (var blobs = Files.list(tmp.resolve("home/bundles/blobs"))) {
            assertThat(blobs.count()).isEqualTo(Long.parseLong(built.out().replaceAll("(?s).*jars\\s+(\\d+) .*", "$1")));
        }
        assertThat(cli("bundle", "status", digest.substring(0, 15), "tested").out()).contains("status      tested");
        MainTest.Result bad = cli("bundle", "status", digest, "great");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("not one of [built, tested, failed]");
        assertThat(cli("bundle", "show", "nosuch").err()).contains("no bundle 'nosuch'", "canopy bundle list");
        assertThat(cli("bundle", "list").out()).contains(digest.substring(0, 19), "tested", "production");

        // a cluster from the bundle: its processes run the bundle's jars, laid out under the home's cache
        MainTest.Result created = cli("cluster", "create", "from-bundle", "--workers", "1", "--bundle", "production");
        assertThat(created.code()).as(created.err()).isZero();
        assertThat(created.out()).contains("bundle      " + digest);
        Path laidOut = tmp.resolve("home/cache/bundles").resolve(digest).resolve("jars").toRealPath();
        try (var homes = Files.list(tmp.resolve("home/clusters"))) {
            Path sparkHome = homes.filter(h -> h.getFileName().toString().startsWith(".spark-home")).findFirst().orElseThrow();
            try (var jars = Files.list(sparkHome.resolve("jars"))) {
                assertThat(jars.map(j -> {
                    try {
                        return Files.readSymbolicLink(j).getParent();
                    } catch (java.io.IOException e) {
                        return j;
                    }
                }).distinct().toList()).containsExactly(laidOut);
            }
        }
        await().atMost(Duration.ofSeconds(90)).until(() -> cli("cluster", "status", "from-bundle").out().contains("1 alive of 1 wanted"));
        assertThat(cli("cluster", "status", "from-bundle").out()).contains("bundle      " + digest);

        // the server's drivers run from the bundle named
        Path home = tmp.resolve("home");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(home.resolve("surveys/demo"))) {
            g.generate(SurveySpec.of(24, 64, 3), out, dev.canopy.api.ProgressListener.NONE);
        }
        ModelRegistry r = new ModelRegistry(new FileObjectStore(home.resolve("registry")), tmp.resolve("cache"), Clock.systemUTC());
        r.registerUntrained("weeds", Architecture.SMALL_CNN, 32, 1);
        r.promote("weeds", 1, "production");
        ServerProcess s = ServerProcess.start(home, "--bundle", digest.substring(0, 20));
        server = s.process();
        assertThat(String.join("\n", s.lines())).contains("bundle      " + digest + " (tested, production): jobs run its jars");
        MainTest.Result token = cli("token", "create", "--team", "t", "--scopes", "read,predict");
        CanopyClient c = s.client(token.out().trim());
        JsonNode job = c.predict("demo", ControlPlaneTest.wholeSurvey(c), "weeds@production", null, null);
        JsonNode done = c.waitFor(job.get("id").asText(), Duration.ofMinutes(4), j -> { });
        String log = c.logs(job.get("id").asText(), 0)[0];
        assertThat(done.get("status").asText()).as(log).isEqualTo("succeeded");
        assertThat(log).as("the driver ran the bundle").contains("\nbundle " + digest + "\n");
        MainTest.Result unknown = cli("server", "--bundle", "sha256-00000000", "--port", "0");
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("no bundle 'sha256-00000000'");
    }
}
