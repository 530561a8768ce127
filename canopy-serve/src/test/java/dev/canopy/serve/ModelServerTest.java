package dev.canopy.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.api.Json;
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
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real server on a free port, real HTTP, a real model. */
class ModelServerTest {
    @TempDir
    static Path tmp;
    static ModelRegistry registry;
    static Path survey;
    static byte[] jpeg;
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final java.time.Instant T0 = java.time.Instant.parse("2026-01-01T00:00:00Z");
    /** Tokens of the test servers: one with every serving scope, one read-only, one that expires at T0 + 1 h. */
    static String token;
    static String readOnly;
    static String expiring;
    static TokensFile tokens;

    static ServeSettings settings() {
        return ServeSettings.defaults().withPort(0).withAuth(tokens);
    }

    /** A clock the test moves by hand (for the registry refresh interval). */
    static final class ManualClock extends Clock {
        volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");
        @Override public java.time.ZoneId getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
    }

    static ModelRegistry.Version register(String name, Architecture arch, int size, int seed) {
        ModelCard card = new ModelCard(name, ModelCard.FORMAT_DJL, arch.id(), size, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        return registry.register(name, card, arch.initialWeights(5, size, seed));
    }

    @BeforeAll
    static void setUp() throws Exception {
        Path file = tmp.resolve("tokens.json");
        Clock at = Clock.fixed(T0, ZoneOffset.UTC);
        token = TokensFile.create(file, "team-a", java.util.EnumSet.of(dev.canopy.api.auth.TokenVerifier.Scope.PREDICT,
                dev.canopy.api.auth.TokenVerifier.Scope.READ), null, at);
        readOnly = TokensFile.create(file, "team-a", java.util.EnumSet.of(dev.canopy.api.auth.TokenVerifier.Scope.READ), null, at);
        expiring = TokensFile.create(file, "team-b", java.util.EnumSet.of(dev.canopy.api.auth.TokenVerifier.Scope.ADMIN), T0.plusSeconds(3600), at);
        tokens = TokensFile.load(file, Clock.systemUTC()); // now is long after T0 + 1 h: the third token has expired
        registry = new ModelRegistry(new FileObjectStore(tmp.resolve("registry")), tmp.resolve("cache"), Clock.systemUTC());
        register("weeds", Architecture.SMALL_CNN, 32, 1);
        survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(1); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(4, 64, 1), s, ProgressListener.NONE);
        }
        jpeg = Files.readAllBytes(survey.resolve("tiles/r00000c00000.jpg"));
    }

    static HttpResponse<String> post(ModelServer s, String path, String type, byte[] body) throws Exception {
        return post(s, path, type, body, token);
    }

    static HttpResponse<String> post(ModelServer s, String path, String type, byte[] body, String bearer) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).header("Content-Type", type)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (bearer != null) b.header("Authorization", "Bearer " + bearer);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(ModelServer s, String path) throws Exception {
        return get(s, path, token);
    }

    static HttpResponse<String> get(ModelServer s, String path, String bearer) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).GET();
        if (bearer != null) b.header("Authorization", "Bearer " + bearer);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpRequest.Builder request(ModelServer s, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).header("Authorization", "Bearer " + token);
    }

    /** Every /v1 route: no token 401, unknown or expired token 401, missing scope 403; the public routes need none. */
    @Test
    void everyV1RouteNeedsATokenWithTheRightScope() throws Exception {
        try (ModelServer s = ModelServer.start(registry, settings(), Clock.systemUTC(), List.of("weeds"))) {
            for (String bad : new String[] {null, "cnp_not-a-real-token", expiring, ""}) {
                HttpResponse<String> p = post(s, "/v1/models/weeds/predict", "image/jpeg", jpeg, bad);
                HttpResponse<String> g = get(s, "/v1/models", bad);
                for (HttpResponse<String> r : List.of(p, g)) {
                    assertThat(r.statusCode()).as(String.valueOf(bad)).isEqualTo(401);
                    assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
                    assertThat(Json.MAPPER.readTree(r.body()).get("code").asText()).isEqualTo("unauthorized");
                    if (bad != null && !bad.isEmpty()) assertThat(r.body()).doesNotContain(bad);
                }
            }
            HttpResponse<String> scope = post(s, "/v1/models/weeds/predict", "image/jpeg", jpeg, readOnly);
            assertThat(scope.statusCode()).isEqualTo(403);
            assertThat(Json.MAPPER.readTree(scope.body()).get("code").asText()).isEqualTo("forbidden_scope");
            assertThat(get(s, "/v1/models", readOnly).statusCode()).isEqualTo(200);
            assertThat(post(s, "/v1/models/weeds/predict", "image/jpeg", jpeg, token).statusCode()).isEqualTo(200);
            assertThat(get(s, "/healthz", null).statusCode()).isEqualTo(200);
            assertThat(get(s, "/readyz", null).statusCode()).isEqualTo(200);
            assertThat(get(s, "/metrics", null).statusCode()).as("public on a loopback bind").isEqualTo(200);
        }
    }

    @Test
    void loopbackMeansEveryResolvedAddressIsLoopback() {
        for (String h : List.of("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2")) assertThat(ServeSettings.defaults().withHost(h).loopback()).as(h).isTrue();
        for (String h : List.of("0.0.0.0", "127.evil.example", "10.0.0.1", "")) assertThat(ServeSettings.defaults().withHost(h).loopback()).as(h).isFalse();
    }

    /** Without tokens, a request addressed to another host name (a web page rebinding its DNS to us) is refused. */
    @Test
    void withoutTokensOnlyLocalhostHostHeadersAreAnswered() throws Exception {
        try (ModelServer s = ModelServer.start(registry, ServeSettings.defaults().withPort(0).withNoAuth(), Clock.systemUTC(), List.of())) {
            for (String[] c : new String[][] {{"evil.example", "403"}, {"localhost:" + s.port(), "200"}, {"127.0.0.1:" + s.port(), "200"}}) {
                try (java.net.Socket sock = new java.net.Socket("127.0.0.1", s.port())) {
                    sock.getOutputStream().write(("GET /v1/models HTTP/1.1\r\nHost: " + c[0] + "\r\nConnection: close\r\n\r\n")
                            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    String status = new java.io.BufferedReader(new java.io.InputStreamReader(sock.getInputStream())).readLine();
                    assertThat(status).as(c[0]).contains(" " + c[1] + " ");
                }
            }
        }
    }

    @Test
    void aHeadRequestNeedsOnlyTheReadScope() throws Exception {
        try (ModelServer s = ModelServer.start(registry, settings(), Clock.systemUTC(), List.of())) {
            HttpResponse<Void> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/models"))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).header("Authorization", "Bearer " + readOnly).build(), HttpResponse.BodyHandlers.discarding());
            assertThat(r.statusCode()).isNotIn(401, 403);
        }
    }

    @Test
    void aServerWithoutTokensStartsOnlyWhenAskedOnLoopback() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ModelServer.start(registry, ServeSettings.defaults().withPort(0), Clock.systemUTC(), List.of()))
                .isInstanceOf(dev.canopy.api.CanopyException.class).hasMessageContaining("no tokens");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ModelServer.start(registry, ServeSettings.defaults().withHost("0.0.0.0").withPort(0).withNoAuth(),
                Clock.systemUTC(), List.of())).isInstanceOf(dev.canopy.api.CanopyException.class).hasMessageContaining("--no-auth is refused");
        try (ModelServer s = ModelServer.start(registry, ServeSettings.defaults().withPort(0).withNoAuth(), Clock.systemUTC(), List.of())) {
            assertThat(get(s, "/v1/models", null).statusCode()).isEqualTo(200);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void predictsImagesAndUrisAndReportsMetrics() throws Exception {
        ServeSettings st = settings().withAllowUris(UriPolicy.of(List.of(survey.toUri().toString()), "--allow-uris"));
        try (ModelServer s = ModelServer.start(registry, st, Clock.systemUTC(), List.of("weeds"))) {
            HttpResponse<String> r = post(s, "/v1/models/weeds/predict", "image/jpeg", jpeg);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode j = Json.MAPPER.readTree(r.body());
            assertThat(j.get("model").asText()).isEqualTo("weeds");
            assertThat(j.get("probabilities")).hasSize(5);
            double sum = 0;
            for (JsonNode p : j.get("probabilities")) sum += p.asDouble();
            assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
            // the server says how long it held the request, so a client can tell its own queueing from the server's
            assertThat(r.headers().firstValue("Server-Timing")).get(org.assertj.core.api.InstanceOfAssertFactories.STRING).matches("total;dur=\\d+\\.\\d");

            String uris = "{\"uris\": [\"" + survey.resolve("tiles/r00000c00001.jpg").toUri() + "\", \"" + survey.resolve("tiles/missing.jpg").toUri() + "\"]}";
            JsonNode batch = Json.MAPPER.readTree(post(s, "/v1/models/weeds/predict", "application/json", uris.getBytes()).body());
            assertThat(batch.get("predictions").get(0).get("status").asText()).isEqualTo("ok");
            assertThat(batch.get("predictions").get(1).get("status").asText()).isEqualTo("error");
            assertThat(batch.get("predictions").get(1).get("code").asText()).isEqualTo("object_not_found");

            assertThat(get(s, "/healthz").statusCode()).isEqualTo(200);
            assertThat(get(s, "/readyz").body()).contains("weeds:1");
            assertThat(get(s, "/v1/models").body()).contains("\"name\":\"weeds\"").contains("loaded_version");
            String metrics = get(s, "/metrics").body();
            assertThat(metrics).contains("canopy_requests_seconds_count{model=\"weeds\",status=\"200\"}")
                    .contains("canopy_batch_size").contains("canopy_queue_time").contains("canopy_model_busy_fraction");
        }
    }

    @Test
    void badInputGetsA4xxWithACodeAndTheServerKeepsServing() throws Exception {
        try (ModelServer s = ModelServer.start(registry, settings().withMaxBodyBytes(200_000), Clock.systemUTC(), List.of())) {
            HttpResponse<String> garbage = post(s, "/v1/models/weeds/predict", "image/jpeg", "not an image".getBytes());
            assertThat(garbage.statusCode()).isEqualTo(400);
            assertThat(Json.MAPPER.readTree(garbage.body()).get("code").asText()).isEqualTo("bad_image");
            assertThat(garbage.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
            assertThat(Json.MAPPER.readTree(garbage.body()).get("status").asInt()).isEqualTo(400);
            assertThat(Json.MAPPER.readTree(garbage.body()).get("type").asText()).isEqualTo("urn:canopy:problem:bad_image");
            HttpResponse<String> type = post(s, "/v1/models/weeds/predict", "text/plain", "hello".getBytes());
            assertThat(type.statusCode()).isEqualTo(415);
            assertThat(type.body()).contains("unsupported_media_type");
            HttpResponse<String> unknown = post(s, "/v1/models/nope/predict", "image/jpeg", jpeg);
            assertThat(unknown.statusCode()).isEqualTo(404);
            assertThat(unknown.body()).contains("model_not_found");
            HttpResponse<String> big = post(s, "/v1/models/weeds/predict", "image/jpeg", new byte[300_000]);
            assertThat(big.statusCode()).isEqualTo(413);
            assertThat(big.body()).contains("body_too_large");
            HttpResponse<String> badJson = post(s, "/v1/models/weeds/predict", "application/json", "{oops".getBytes());
            assertThat(badJson.statusCode()).isEqualTo(400);
            assertThat(post(s, "/v1/models/weeds/predict", "image/jpeg", jpeg).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void overloadIsRefusedWith429AndRetryAfter() throws Exception {
        register("slow", Architecture.RESNET18, 224, 3);
        ServeSettings st = settings().withQueueCapacity(2).withMaxBatch(1).withRequestTimeout(Duration.ofSeconds(5));
        try (ModelServer s = ModelServer.start(registry, st, Clock.systemUTC(), List.of("slow"))) {
            List<CompletableFuture<HttpResponse<String>>> fs = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                fs.add(HTTP.sendAsync(request(s, "/v1/models/slow/predict")
                        .header("Content-Type", "image/jpeg").POST(HttpRequest.BodyPublishers.ofByteArray(jpeg)).build(), HttpResponse.BodyHandlers.ofString()));
            }
            long ok = 0, refused = 0;
            for (CompletableFuture<HttpResponse<String>> f : fs) {
                HttpResponse<String> r = f.get();
                if (r.statusCode() == 200) ok++;
                if (r.statusCode() == 429) {
                    refused++;
                    assertThat(r.headers().firstValue("Retry-After")).hasValue("1");
                    assertThat(r.body()).contains("overloaded");
                }
            }
            assertThat(ok).isPositive();
            assertThat(refused).isPositive();
            assertThat(ok + refused).isEqualTo(40);
        }
    }

    /**
     * A steady load runs across a promotion: every request gets 200, some are answered by v1 and some
     * by v2, and v1's pool closes only after its last answer.
     */
    @Test
    void aVersionSwapUnderSteadyLoadLosesNothing() throws Exception {
        ModelRegistry.Version v1 = register("swap", Architecture.SMALL_CNN, 32, 5);
        registry.promote("swap", v1.version(), "production");
        ManualClock clock = new ManualClock();
        ServeSettings st = settings().withRefreshInterval(Duration.ofSeconds(5)).withRequestTimeout(Duration.ofSeconds(20));
        try (ModelServer s = ModelServer.start(registry, st, clock, List.of("swap"))) {
            ModelCache.Served first = s.cache().loaded().get(0);
            assertThat(first.version().version()).isEqualTo(1);
            ModelRegistry.Version v2 = register("swap", Architecture.SMALL_CNN, 32, 6);
            registry.promote("swap", v2.version(), "production");
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.ConcurrentLinkedQueue<HttpResponse<String>> answers = new java.util.concurrent.ConcurrentLinkedQueue<>();
            java.util.concurrent.ConcurrentLinkedQueue<Throwable> clientErrors = new java.util.concurrent.ConcurrentLinkedQueue<>();
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                Thread t = new Thread(() -> {
                    while (!stop.get()) {
                        try {
                            answers.add(post(s, "/v1/models/swap/predict", "image/jpeg", jpeg));
                        } catch (Exception e) {
                            clientErrors.add(e);
                            return;
                        }
                    }
                });
                t.start();
                clients.add(t);
            }
            org.awaitility.Awaitility.await().until(() -> answers.size() >= 20);
            clock.now = clock.now.plusSeconds(6); // the next request sees the entry stale and starts loading v2
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60))
                    .until(() -> answers.stream().anyMatch(r -> r.body().contains("\"version\":2")));
            int before = answers.size();
            org.awaitility.Awaitility.await().until(() -> answers.size() >= before + 20);
            stop.set(true);
            for (Thread t : clients) t.join();
            assertThat(clientErrors).isEmpty();
            for (HttpResponse<String> r : answers) assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            long byV1 = answers.stream().filter(r -> r.body().contains("\"version\":1")).count();
            long byV2 = answers.stream().filter(r -> r.body().contains("\"version\":2")).count();
            assertThat(byV1).isPositive();
            assertThat(byV2).isPositive();
            assertThat(byV1 + byV2).isEqualTo(answers.size());
            assertThat(first.isRetired()).isTrue();
            // closed only after its last answer, and really stopped: replica threads ended, models closed
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> first.pool().isTerminated());
            assertThat(first.pool().stats().images()).isEqualTo(byV1); // every answer v1 computed reached a client
        }
    }
}
