package dev.canopy.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.UriPolicy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON form of predict reads only what the operator allowed, and says nothing about the rest. */
class ServeUriSecurityTest {
    @TempDir
    static Path tmp;
    static ModelRegistry registry;
    static Path allowed;
    static ModelServer open;
    static ModelServer closed;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static String token;

    @BeforeAll
    static void setUp() throws Exception {
        registry = new ModelRegistry(new FileObjectStore(tmp.resolve("registry")), tmp.resolve("cache"), Clock.systemUTC());
        ModelCard card = new ModelCard("m", ModelCard.FORMAT_DJL, Architecture.SMALL_CNN.id(), 32, ImageDecoder.IMAGENET_MEAN,
                ImageDecoder.IMAGENET_STD, LandCover.labels(), Map.of(), null);
        registry.register("m", card, Architecture.SMALL_CNN.initialWeights(5, 32, 1));
        allowed = tmp.resolve("data");
        try (SurveyGenerator g = new SurveyGenerator(1); FileObjectStore s = new FileObjectStore(allowed)) {
            g.generate(SurveySpec.of(2, 64, 1), s, ProgressListener.NONE);
        }
        Files.createSymbolicLink(allowed.resolve("passwd-link.jpg"), Path.of("/etc/passwd"));
        Files.createSymbolicLink(allowed.resolve("zero-link.jpg"), Path.of("/dev/zero"));
        Files.createSymbolicLink(allowed.resolve("dangling.jpg"), tmp.resolve("nowhere.jpg"));
        Files.createSymbolicLink(allowed.resolve("etc-link"), Path.of("/etc"));
        Files.write(allowed.resolve("big.jpg"), new byte[300_000]);
        Path tokensFile = tmp.resolve("tokens.json");
        token = TokensFile.create(tokensFile, "t", java.util.EnumSet.of(dev.canopy.api.auth.TokenVerifier.Scope.PREDICT), null, Clock.systemUTC());
        ServeSettings base = ServeSettings.defaults().withPort(0).withAuth(TokensFile.load(tokensFile, Clock.systemUTC())).withMaxBodyBytes(200_000).withRequestTimeout(Duration.ofSeconds(10));
        closed = ModelServer.start(registry, base, Clock.systemUTC(), List.of("m"));
        open = ModelServer.start(registry, base.withAllowUris(UriPolicy.of(List.of(allowed.toUri().toString(), "file:///dev/", "s3://bucket/surveys/"),
                "--allow-uris")), Clock.systemUTC(), List.of("m"));
    }

    @AfterAll
    static void tearDown() {
        if (open != null) open.close();
        if (closed != null) closed.close();
    }

    static HttpResponse<String> predict(ModelServer s, String... uris) throws Exception {
        StringBuilder b = new StringBuilder("{\"uris\": [");
        for (int i = 0; i < uris.length; i++) b.append(i == 0 ? "" : ",").append('"').append(uris[i]).append('"');
        b.append("]}");
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/models/m/predict"))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(15))
                .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) throws Exception {
        return Json.MAPPER.readTree(r.body());
    }

    @Test
    void byDefaultTheJsonFormIsRefusedNamingTheFlag() throws Exception {
        HttpResponse<String> r = predict(closed, allowed.resolve("tiles/r00000c00000.jpg").toUri().toString());
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(json(r).get("code").asText()).isEqualTo("uri_not_allowed");
        assertThat(json(r).get("detail").asText()).contains("--allow-uris");
    }

    @Test
    void aPathOutsideThePrefixesIsRefusedAndItsExistenceIsNotRevealed() throws Exception {
        HttpResponse<String> exists = predict(open, "file:///etc/passwd");
        HttpResponse<String> missing = predict(open, "file:///etc/no-such-file-here");
        assertThat(exists.statusCode()).isEqualTo(403);
        assertThat(missing.statusCode()).isEqualTo(403);
        // the same answer but for the URI the caller sent
        assertThat(json(exists).get("detail").asText().replace("/etc/passwd", "X"))
                .isEqualTo(json(missing).get("detail").asText().replace("/etc/no-such-file-here", "X"));
        assertThat(exists.body()).doesNotContain("root:").doesNotContain("not found").doesNotContain("NoSuchFile");
    }

    @Test
    void tricksThatLookInsideThePrefixAreRefused() throws Exception {
        String root = allowed.toUri().toString();
        for (String u : List.of(root + "../../../etc/passwd", root + "tiles/%2e%2e/%2e%2e/x.jpg", root + "./tiles/r00000c00000.jpg",
                "file://evil.example/" + allowed + "/tiles/r00000c00000.jpg", "s3://bucket/surveys-old/x.jpg", "s3://bucket/surveys/../secrets/x",
                "http://127.0.0.1:1/x.jpg", root + "passwd-link.jpg", "file:" + allowed + "/../x://y", "file://:80" + allowed + "/tiles/r00000c00000.jpg",
                "file:relative/x.jpg", root + "dangling.jpg", root + "etc-link/passwd", root + "etc-link/no-such-file")) {
            HttpResponse<String> r = predict(open, u);
            assertThat(r.statusCode()).as(u + " -> " + r.body()).isEqualTo(403);
            assertThat(json(r).get("code").asText()).isEqualTo("uri_not_allowed");
        }
    }

    @Test
    void onlyRegularFilesUpToTheSizeCapAreRead() throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<String> r = predict(open, "file:///dev/zero", allowed.resolve("big.jpg").toUri().toString(),
                allowed.resolve("tiles/r00000c00001.jpg").toUri().toString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode p = json(r).get("predictions");
        assertThat(p.get(0).get("status").asText()).isEqualTo("error");
        assertThat(p.get(0).get("code").asText()).isEqualTo("bad_object");
        assertThat(p.get(0).get("error").asText()).contains("not a regular file");
        assertThat(p.get(1).get("code").asText()).isEqualTo("bad_object");
        assertThat(p.get(1).get("error").asText()).contains("larger than 200000 bytes");
        assertThat(p.get(2).get("status").asText()).isEqualTo("ok");
        // /dev/zero was refused, not read until the deadline
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aLinkInsideThePrefixToADeviceIsRefused() throws Exception {
        HttpResponse<String> r = predict(open, allowed.resolve("zero-link.jpg").toUri().toString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
    }
}
