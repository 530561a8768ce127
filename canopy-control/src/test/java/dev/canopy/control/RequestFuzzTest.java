package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.Json;
import dev.canopy.api.auth.TokenVerifier.Scope;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Every request body, malformed every way a generator can think of: no answer is a 5xx. Bodies are random
 * JSON trees over each route's own field names (so that validation deep inside is reached), valid bodies with
 * one field replaced by a random value, and raw strings that are not JSON. A fixed seed keeps CI repeatable.
 */
class RequestFuzzTest {
    static ControlFixture f;
    static String admin;
    static Path home;

    /** POST routes and the fields their bodies take. */
    static final Map<String, List<String>> ROUTES = new LinkedHashMap<>();
    static {
        ROUTES.put("/v1/surveys", List.of("name", "manifest"));
        ROUTES.put("/v1/predictions", List.of("survey", "area", "model", "callback", "url", "secret", "type", "coordinates", "features", "geometry"));
        ROUTES.put("/v1/webhooks", List.of("url", "event_types"));
        ROUTES.put("/v1/labels", List.of("survey", "labels", "tile_id", "geometry", "class", "annotator", "time", "type", "coordinates"));
        ROUTES.put("/v1/retrain", List.of("model", "survey", "labels", "search_space", "budget", "margin", "block_size", "seed", "architecture",
                "from", "to", "annotator", "classes", "area", "trials", "epochs"));
        ROUTES.put("/v1/models/weeds/promote", List.of("version", "stage"));
        ROUTES.put("/v1/models/weeds/rollback", List.of("stage"));
        ROUTES.put("/v1/models/weeds/versions/1/reject", List.of("reason"));
        ROUTES.put("/v1/jobs/job_0123456789abcdef/cancel", List.of());
        ROUTES.put("/v1/deliveries/msg_0123456789abcdef/redeliver", List.of());
    }

    static final Map<String, String> VALID = Map.of(
            "/v1/predictions", ControlFixture.predictionBody(ControlFixture.areaJson(1), "http://127.0.0.1:9/x"),
            "/v1/webhooks", "{\"url\":\"http://127.0.0.1:9/x\",\"event_types\":[\"job.failed\"]}",
            "/v1/labels", "{\"survey\":\"demo\",\"labels\":[{\"tile_id\":\"t\",\"class\":\"weed\",\"annotator\":\"a\",\"time\":\"2026-01-01T00:00:00Z\"}]}",
            "/v1/retrain", "{\"model\":\"weeds\",\"survey\":\"demo\",\"labels\":{\"annotator\":\"a\"},\"budget\":{\"trials\":1,\"epochs\":1},\"margin\":0.1}");

    @BeforeContainer
    static void start() throws Exception {
        home = Files.createTempDirectory("canopy-fuzz");
        // no driver runs here (maxRunningJobs 0): queued jobs only
        f = new ControlFixture(home, false, s -> s);
        admin = f.token("fuzz", Scope.READ, Scope.PREDICT, Scope.TRAIN, Scope.ADMIN);
    }

    @AfterContainer
    static void stop() throws Exception {
        if (f != null) f.close();
        try (var walk = Files.walk(home)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Property(tries = 400, seed = "20261127")
    void noRequestBodyMakesA5xx(@ForAll("requests") String[] request) {
        ControlFixture.Answer a = f.post(request[0], admin, request[1]);
        assertThat(a.status()).as(request[0] + " " + request[1] + " -> " + a.body()).isLessThan(500);
        if (a.status() >= 400) assertThat(a.headers().firstValue("content-type").orElse("")).startsWith("application/problem+json");
    }

    @Provide
    Arbitrary<String[]> requests() {
        Arbitrary<String> route = Arbitraries.of(new ArrayList<>(ROUTES.keySet()));
        return route.flatMap(r -> Arbitraries.oneOf(
                json(ROUTES.get(r)).map(Json::writeString),
                mutated(r),
                Arbitraries.strings().ofMaxLength(200)).map(body -> new String[] {r, body}));
    }

    private Arbitrary<String> mutated(String route) {
        String valid = VALID.get(route);
        if (valid == null) return json(ROUTES.get(route)).map(Json::writeString);
        Map<String, Object> base = Json.MAPPER.convertValue(Json.MAPPER.valueToTree(readTree(valid)), Map.class);
        List<String> keys = new ArrayList<>(base.keySet());
        return Arbitraries.of(keys).flatMap(k -> value(ROUTES.get(route), 2).map(v -> {
            Map<String, Object> m = new LinkedHashMap<>(base);
            m.put(k, v);
            return Json.writeString(m);
        }));
    }

    private static Object readTree(String s) {
        try {
            return Json.MAPPER.readValue(s, Object.class);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private Arbitrary<Object> json(List<String> fields) {
        return value(fields, 3);
    }

    private Arbitrary<Object> value(List<String> fields, int depth) {
        List<Arbitrary<?>> leaves = List.of(
                Arbitraries.strings().ofMaxLength(30),
                Arbitraries.of("demo", "weeds", "weeds@production", "weeds:1", "production", "job.failed", "*", "file:///etc/passwd",
                        "http://127.0.0.1:9/x", "http://[::1]/", "http://169.254.169.254/", "2026-01-01T00:00:00Z", "Polygon", "whsec_AAAA", "", "../../x"),
                Arbitraries.integers(), Arbitraries.longs(), Arbitraries.doubles(), Arbitraries.of(true, false), Arbitraries.just(null),
                Arbitraries.of(1e308, -1e308, Double.MIN_VALUE, 0.0, -0.0, 9_007_199_254_740_993L, Long.MAX_VALUE));
        @SuppressWarnings("unchecked")
        Arbitrary<Object> leaf = (Arbitrary<Object>) (Arbitrary<?>) Arbitraries.oneOf((List) leaves);
        if (depth == 0) return leaf;
        Arbitrary<String> key = fields.isEmpty() ? Arbitraries.strings().ofMaxLength(10)
                : Arbitraries.oneOf(Arbitraries.of(fields), Arbitraries.strings().ofMaxLength(10));
        Arbitrary<Object> list = value(fields, depth - 1).list().ofMaxSize(4).map(l -> (Object) l);
        Arbitrary<Object> map = Arbitraries.maps(key, value(fields, depth - 1)).ofMaxSize(5).map(m -> (Object) m);
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(3, leaf), net.jqwik.api.Tuple.of(1, list), net.jqwik.api.Tuple.of(3, map));
    }
}
