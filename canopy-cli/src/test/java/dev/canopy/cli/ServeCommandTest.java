package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `canopy serve` as a real process: the first start makes and prints a token, later starts reuse the file. */
class ServeCommandTest {
    @TempDir
    Path tmp;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    record Started(Process process, int port, String token, List<String> lines) { }

    Started serve(Path home, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-Dai.djl.offline=true", dev.canopy.api.ClassPathArgs.argFile(System.getProperty("java.class.path")), Main.class.getName(), "--no-progress", "--home", home.toString(),
                "serve", "--model", "weeds", "--port", "0"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream()));
        List<String> lines = new ArrayList<>();
        int port = -1;
        String token = null;
        for (String line; (line = in.readLine()) != null; ) {
            lines.add(line);
            Matcher m = Pattern.compile("on http://[^:]+:(\\d+) ").matcher(line);
            if (m.find()) port = Integer.parseInt(m.group(1));
            Matcher t = Pattern.compile("^\\s+(cnp_[A-Za-z0-9_-]+)$").matcher(line);
            if (t.find()) token = t.group(1);
            if (line.startsWith("URIs readable")) break;
        }
        return new Started(p, port, token, lines);
    }

    static int get(int port, String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET();
        if (token != null) b.header("Authorization", "Bearer " + token);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    @Test
    void theFirstStartPrintsATokenThatOpensV1AndLaterStartsKeepIt() throws Exception {
        Path home = tmp.resolve("home");
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(home.resolve("registry")), tmp.resolve("cache"), Clock.systemUTC());
        registry.register("weeds", new ModelCard("weeds", ModelCard.FORMAT_DJL, Architecture.SMALL_CNN.id(), 32, ImageDecoder.IMAGENET_MEAN,
                ImageDecoder.IMAGENET_STD, LandCover.labels(), Map.of(), null), Architecture.SMALL_CNN.initialWeights(5, 32, 1));
        Started first = serve(home);
        try {
            assertThat(first.port()).as(String.join("\n", first.lines())).isPositive();
            assertThat(first.token()).as(String.join("\n", first.lines())).startsWith("cnp_");
            assertThat(get(first.port(), "/v1/models", null)).isEqualTo(401);
            assertThat(get(first.port(), "/v1/models", first.token())).isEqualTo(200);
            assertThat(get(first.port(), "/healthz", null)).isEqualTo(200);
        } finally {
            first.process().destroy();
            first.process().waitFor(30, TimeUnit.SECONDS);
        }
        String stored = Files.readString(home.resolve("serve-tokens.json"));
        assertThat(stored).doesNotContain(first.token()).contains(dev.canopy.api.auth.Tokens.sha256(first.token()));

        Started second = serve(home);
        try {
            assertThat(second.token()).as("no new token once the file has one").isNull();
            assertThat(get(second.port(), "/v1/models", first.token())).isEqualTo(200);
        } finally {
            second.process().destroy();
            second.process().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void noAuthIsRefusedBeyondLoopback() throws Exception {
        MainTest.Result r = MainTest.run("--home", tmp.resolve("home").toString(), "serve", "--model", "weeds", "--host", "0.0.0.0", "--no-auth");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("--no-auth is refused on 0.0.0.0").contains("127.0.0.1");
    }
}
