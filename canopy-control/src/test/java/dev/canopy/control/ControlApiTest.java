package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.auth.TokenVerifier.Scope;
import io.javalin.event.HandlerMetaInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The REST API on both databases: documented routes, the auth matrix, validation, idempotency, pagination, cancel. */
class ControlApiTest {
    @TempDir
    static Path tmp;
    static ControlFixture server;
    static ControlFixture embedded;

    /**
     * The scope every /v1 route needs, written down here independently of the code: a route added without
     * an entry fails {@link #everyDocumentedRouteIsInTheAuthMatrix}.
     */
    static final Map<String, Scope> SCOPES = Map.ofEntries(
            Map.entry("POST /v1/surveys", Scope.PREDICT), Map.entry("GET /v1/surveys", Scope.READ), Map.entry("GET /v1/surveys/{name}", Scope.READ),
            Map.entry("POST /v1/predictions", Scope.PREDICT),
            Map.entry("GET /v1/jobs", Scope.READ), Map.entry("GET /v1/jobs/{id}", Scope.READ), Map.entry("POST /v1/jobs/{id}/cancel", Scope.PREDICT),
            Map.entry("GET /v1/jobs/{id}/logs", Scope.READ), Map.entry("GET /v1/jobs/{id}/events", Scope.READ), Map.entry("GET /v1/jobs/{id}/features", Scope.READ),
            Map.entry("POST /v1/webhooks", Scope.PREDICT), Map.entry("GET /v1/webhooks", Scope.READ), Map.entry("GET /v1/webhooks/{id}", Scope.READ),
            Map.entry("DELETE /v1/webhooks/{id}", Scope.PREDICT), Map.entry("GET /v1/deliveries", Scope.READ),
            Map.entry("GET /v1/deliveries/{id}", Scope.READ), Map.entry("POST /v1/deliveries/{id}/redeliver", Scope.PREDICT),
            Map.entry("GET /v1/models", Scope.READ), Map.entry("GET /v1/models/{name}", Scope.READ),
            Map.entry("POST /v1/models/{name}/versions/{version}/approve", Scope.ADMIN), Map.entry("POST /v1/models/{name}/versions/{version}/reject", Scope.ADMIN),
            Map.entry("POST /v1/models/{name}/promote", Scope.ADMIN), Map.entry("POST /v1/models/{name}/rollback", Scope.ADMIN),
            Map.entry("POST /v1/labels", Scope.TRAIN), Map.entry("GET /v1/experiments", Scope.READ), Map.entry("GET /v1/experiments/{id}", Scope.READ), Map.entry("GET /v1/labels", Scope.READ), Map.entry("POST /v1/retrain", Scope.TRAIN),
            Map.entry("GET /v1/events/jobs", Scope.READ), Map.entry("GET /v1/jobs/{id}/timeline", Scope.READ), Map.entry("GET /v1/jobs/{id}/area", Scope.READ),
            Map.entry("GET /v1/jobs/{id}/tiles/{tile}/image", Scope.READ), Map.entry("GET /v1/clusters", Scope.READ), Map.entry("GET /v1/clusters/{name}", Scope.READ),
            Map.entry("POST /v1/clusters", Scope.ADMIN), Map.entry("POST /v1/clusters/{name}/scale", Scope.ADMIN),
            Map.entry("POST /v1/clusters/{name}/start", Scope.ADMIN), Map.entry("POST /v1/clusters/{name}/stop", Scope.ADMIN),
            Map.entry("POST /v1/clusters/{name}/warm-pool", Scope.ADMIN), Map.entry("DELETE /v1/clusters/{name}", Scope.ADMIN));

    @BeforeAll
    static void start() {
        Path home = tmp.resolve("home");
        server = new ControlFixture(home, false, s -> s);
        embedded = new ControlFixture(home, true, s -> s);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (embedded != null) embedded.close();
    }

    static List<ControlFixture> both() {
        return List.of(server, embedded);
    }

    static Set<String> documented(ControlFixture f) {
        JsonNode doc = f.get("/openapi.json", null).json();
        Set<String> out = new TreeSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.get("paths").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> p = it.next();
            for (Iterator<String> m = p.getValue().fieldNames(); m.hasNext(); ) out.add(m.next().toUpperCase(Locale.ROOT) + " " + p.getKey());
        }
        return out;
    }

    @Test
    void theOpenApiDocumentListsExactlyTheRoutesTheServerServes() {
        Set<String> served = server.server.routes().stream()
                .filter(r -> !r.getPath().equals("/openapi.json") && r.getHttpMethod().isHttpMethod())
                .map(r -> r.getHttpMethod().name() + " " + r.getPath()).collect(Collectors.toCollection(TreeSet::new));
        assertThat(documented(server)).isEqualTo(served);
        assertThat(server.get("/openapi.json", null).json().get("openapi").asText()).startsWith("3.");
    }

    @Test
    void everyDocumentedRouteIsInTheAuthMatrix() {
        Set<String> v1 = documented(server).stream().filter(r -> r.contains(" /v1/")).collect(Collectors.toCollection(TreeSet::new));
        assertThat(new TreeSet<>(SCOPES.keySet())).isEqualTo(v1);
        // and the server enforces what the matrix says (the role each route was registered with)
        for (HandlerMetaInfo r : server.server.routes()) {
            String key = r.getHttpMethod().name() + " " + r.getPath();
            if (SCOPES.containsKey(key)) assertThat(r.getRoles()).as(key).extracting(Object::toString).containsExactly(SCOPES.get(key).name());
        }
    }

    /** Every route × no token, a wrong token, a token without the scope, a token with only that scope. */
    @Test
    void authMatrixEveryRouteNeedsAValidTokenWithItsScope() {
        for (ControlFixture f : both()) {
            Map<Scope, String> only = new java.util.EnumMap<>(Scope.class);
            for (Scope s : Scope.values()) only.put(s, f.token("matrix", s));
            for (Map.Entry<String, Scope> e : SCOPES.entrySet()) {
                String[] mp = e.getKey().split(" ", 2);
                String path = mp[1].replace("{name}", mp[1].startsWith("/v1/models") ? "nosuchmodel" : "demo").replace("{id}", idFor(mp[1]))
                        .replace("{version}", "99").replace("{tile}", "r00000c00000");
                String body = mp[0].equals("POST") ? "{}" : null;
                String what = f.describe() + " " + e.getKey();
                ControlFixture.Answer none = f.call(mp[0], path, null, body);
                assertThat(none.status()).as(what + " without a token").isEqualTo(401);
                assertThat(none.code()).isEqualTo("unauthenticated");
                assertThat(none.headers().firstValue("content-type").orElse("")).startsWith("application/problem+json");
                assertThat(f.call(mp[0], path, "cnp_" + "A".repeat(43), body).status()).as(what + " unknown token").isEqualTo(401);
                Scope wrong = e.getValue() == Scope.READ ? Scope.TRAIN : e.getValue() == Scope.ADMIN ? Scope.TRAIN : Scope.READ;
                ControlFixture.Answer denied = f.call(mp[0], path, only.get(wrong), body);
                assertThat(denied.status()).as(what + " with only " + wrong).isEqualTo(403);
                assertThat(denied.code()).isEqualTo("missing_scope");
                int ok = f.call(mp[0], path, only.get(e.getValue()), body).status();
                assertThat(ok).as(what + " with " + e.getValue()).isNotIn(401, 403).isLessThan(500);
                assertThat(f.call(mp[0], path, only.get(Scope.ADMIN), body).status()).as(what + " with admin").isNotIn(401, 403).isLessThan(500);
            }
        }
    }

    private static String idFor(String path) {
        if (path.startsWith("/v1/jobs")) return "job_0123456789abcdef";
        if (path.startsWith("/v1/webhooks")) return "whk_0123456789abcdef";
        if (path.startsWith("/v1/experiments")) return "no-such-experiment";
        return "msg_0123456789abcdef";
    }

    @Test
    void publicRoutesNeedNoToken() {
        for (ControlFixture f : both()) {
            assertThat(f.get("/healthz", null).status()).isEqualTo(200);
            assertThat(f.get("/readyz", null).status()).isEqualTo(200);
            assertThat(f.get("/openapi.json", null).status()).isEqualTo(200);
            String t0 = f.token("metrics", Scope.READ);
            f.get("/v1/jobs", t0);
            ControlFixture.Answer metrics = f.get("/metrics", null);
            assertThat(metrics.status()).as("public on a loopback bind").isEqualTo(200);
            assertThat(metrics.body()).contains("canopy_control_requests_seconds_count{method=\"GET\",route=\"/v1/jobs\",status=\"200\"}")
                    .contains("canopy_control_drivers_running");
            ControlFixture.Answer missing = f.get("/v1/nothing-here", f.token("t", Scope.READ));
            assertThat(missing.status()).isEqualTo(404);
            assertThat(missing.code()).isEqualTo("not_found");
        }
    }

    @Test
    void aPredictionIsQueuedWithTheExactModelVersionAndShownOnlyToItsTeam() {
        for (ControlFixture f : both()) {
            String a = f.token("team-a", Scope.PREDICT, Scope.READ);
            String b = f.token("team-b", Scope.PREDICT, Scope.READ);
            ControlFixture.Answer r = f.post("/v1/predictions", a, ControlFixture.predictionBody(ControlFixture.areaJson(1), "http://127.0.0.1:9/hook"));
            assertThat(r.status()).as(f.describe() + r.body()).isEqualTo(202);
            JsonNode job = r.json();
            String id = job.get("id").asText();
            assertThat(job.get("status").asText()).isEqualTo("queued");
            assertThat(job.get("model").asText()).isEqualTo("weeds:1");
            assertThat(job.get("request").get("area_hectares").asDouble()).isBetween(0.04, 0.06); // 22 m × 22 m
            assertThat(job.get("request").has("area")).isFalse();
            assertThat(job.get("callback").get("secret").asText()).startsWith("whsec_");
            assertThat(r.headers().firstValue("location")).hasValue("/v1/jobs/" + id);
            assertThat(f.get("/v1/jobs/" + id, a).status()).isEqualTo(200);
            assertThat(f.get("/v1/jobs/" + id, b).status()).as("another team's job is not found").isEqualTo(404);
            assertThat(f.get("/v1/jobs?status=queued", b).json().get("items").findValuesAsText("id")).doesNotContain(id);
            assertThat(f.get("/v1/jobs?status=queued", a).json().get("items").findValuesAsText("id")).contains(id);
            String admin = f.token("ops", Scope.ADMIN);
            assertThat(f.get("/v1/jobs/" + id, admin).status()).isEqualTo(200);
            JsonNode models = f.get("/v1/models?limit=1", a).json();
            assertThat(models.get("items").get(0).get("name").asText()).isEqualTo("weeds");
            assertThat(models.get("items").get(0).get("stages").get("production").asInt()).isEqualTo(1);
            assertThat(models.has("next_cursor")).isFalse();
            assertThat(f.get("/v1/models?cursor=" + Page.encode(1), a).json().get("items")).isEmpty();
        }
    }

    @Test
    void sameIdempotencyKeyAndBodyAnswerTheSameJobAnotherBodyIsAConflict() throws Exception {
        for (ControlFixture f : both()) {
            String t = f.token("idem", Scope.PREDICT, Scope.READ);
            String key = "k-" + System.nanoTime();
            String body = ControlFixture.predictionBody(ControlFixture.areaJson(1), null);
            // field order and spacing do not make another request
            String reordered = "{ \"area\": " + ControlFixture.areaJson(1) + ", \"model\": \"weeds@production\", \"survey\": \"demo\" }";
            List<java.util.concurrent.CompletableFuture<ControlFixture.Answer>> racing = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String b = i % 2 == 0 ? body : reordered;
                racing.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> f.post("/v1/predictions", t, b, "Idempotency-Key", key)));
            }
            Set<String> ids = new HashSet<>();
            for (var a : racing) {
                ControlFixture.Answer ans = a.get();
                assertThat(ans.status()).as(f.describe() + ans.body()).isEqualTo(202);
                ids.add(ans.json().get("id").asText());
            }
            assertThat(ids).as("six concurrent submissions with one key make one job").hasSize(1);
            ControlFixture.Answer other = f.post("/v1/predictions", t, ControlFixture.predictionBody(ControlFixture.areaJson(2), null), "Idempotency-Key", key);
            assertThat(other.status()).isEqualTo(409);
            assertThat(other.code()).isEqualTo("idempotency_key_reused");
            // another team may use the same key for its own request
            String u = f.token("idem-other", Scope.PREDICT);
            assertThat(f.post("/v1/predictions", u, body, "Idempotency-Key", key).status()).isEqualTo(202);
        }
    }

    @Test
    void badRequestsNameTheProblem() {
        for (ControlFixture f : both()) {
            String t = f.token("bad", Scope.PREDICT, Scope.READ);
            String open = "{\"type\":\"Polygon\",\"coordinates\":[[[146.8,-30.5],[146.81,-30.5],[146.81,-30.49],[146.8,-30.49]]]}";
            ControlFixture.Answer notClosed = f.post("/v1/predictions", t, ControlFixture.predictionBody(open, null));
            assertThat(notClosed.status()).isEqualTo(400);
            assertThat(notClosed.code()).isEqualTo("bad_area");
            assertThat(notClosed.json().get("detail").asText()).contains("not closed");
            String swapped = "{\"type\":\"Polygon\",\"coordinates\":[[[-30.5,146.8],[-30.5,146.81],[-30.49,146.81],[-30.5,146.8]]]}";
            assertThat(f.post("/v1/predictions", t, ControlFixture.predictionBody(swapped, null)).json().get("detail").asText()).contains("latitude");
            String far = "{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.001,10],[10.001,10.001],[10,10]]]}";
            ControlFixture.Answer outside = f.post("/v1/predictions", t, ControlFixture.predictionBody(far, null));
            assertThat(outside.status()).isEqualTo(422);
            assertThat(outside.code()).isEqualTo("area_outside_survey");
            String huge = "{\"type\":\"Polygon\",\"coordinates\":[[[0,-60],[170,-60],[170,60],[0,-60]]]}";
            assertThat(f.post("/v1/predictions", t, ControlFixture.predictionBody(huge, null)).json().get("detail").asText()).contains("ha");
            assertThat(f.post("/v1/predictions", t, "{\"survey\":\"nope\",\"model\":\"weeds@production\",\"area\":" + ControlFixture.areaJson(1) + "}").code())
                    .isEqualTo("survey_not_found");
            assertThat(f.post("/v1/predictions", t, "{\"survey\":\"demo\",\"model\":\"weeds@staging\",\"area\":" + ControlFixture.areaJson(1) + "}").code())
                    .isEqualTo("model_not_found");
            assertThat(f.post("/v1/predictions", t, "{\"survey\":\"demo\",\"model\":\"../x\",\"area\":" + ControlFixture.areaJson(1) + "}").code())
                    .isEqualTo("bad_model");
            assertThat(f.post("/v1/predictions", t, "{\"survey\":\"demo\"").code()).isEqualTo("bad_json");
            assertThat(f.post("/v1/predictions", t, "{\"survey\":\"demo\",\"colour\":1}").code()).isEqualTo("unknown_field");
            assertThat(f.post("/v1/predictions", t, ControlFixture.predictionBody(ControlFixture.areaJson(1), "http://169.254.169.254/latest")).code())
                    .isEqualTo("callback_refused");
            assertThat(f.post("/v1/predictions", t, ControlFixture.predictionBody(ControlFixture.areaJson(1), "file:///etc/passwd")).code())
                    .isEqualTo("callback_refused");
            assertThat(f.post("/v1/surveys", t, "{\"name\":\"mine\",\"manifest\":\"file:///etc/\"}").code()).isEqualTo("uri_not_allowed");
            assertThat(f.get("/v1/jobs?status=done", t).code()).isEqualTo("bad_filter");
            assertThat(f.get("/v1/jobs?cursor=zzz", t).code()).isEqualTo("bad_cursor");
            assertThat(f.get("/v1/jobs?limit=100000", t).code()).isEqualTo("bad_limit");
            ControlFixture.Answer big = f.post("/v1/predictions", t, "{\"survey\":\"" + "x".repeat(3 * 1024 * 1024) + "\"}");
            assertThat(big.status()).isEqualTo(413);
        }
    }

    @Test
    void listsArePagedWithCursorsThatNeitherRepeatNorSkip() {
        for (ControlFixture f : both()) {
            String t = f.token("pages", Scope.PREDICT, Scope.READ);
            Set<String> made = new HashSet<>();
            for (int i = 0; i < 7; i++) made.add(f.post("/v1/predictions", t, ControlFixture.predictionBody(ControlFixture.areaJson(1), null)).json().get("id").asText());
            List<String> seen = new ArrayList<>();
            String cursor = null;
            int pages = 0;
            do {
                JsonNode page = f.get("/v1/jobs?limit=3" + (cursor == null ? "" : "&cursor=" + cursor), t).json();
                page.get("items").forEach(j -> seen.add(j.get("id").asText()));
                cursor = page.path("next_cursor").asText(null);
                pages++;
            } while (cursor != null && pages < 10);
            assertThat(seen).doesNotHaveDuplicates().containsAll(made);
            assertThat(pages).isEqualTo(3);
        }
    }

    @Test
    void aQueuedJobIsCancelledAtOnceAndCannotBeCancelledTwice() {
        for (ControlFixture f : both()) {
            String t = f.token("cancel", Scope.PREDICT, Scope.READ);
            String id = f.post("/v1/predictions", t, ControlFixture.predictionBody(ControlFixture.areaJson(1), null)).json().get("id").asText();
            ControlFixture.Answer c = f.post("/v1/jobs/" + id + "/cancel", t, null);
            assertThat(c.status()).isEqualTo(202);
            assertThat(c.json().get("status").asText()).isEqualTo("cancelled");
            assertThat(f.post("/v1/jobs/" + id + "/cancel", t, null).code()).isEqualTo("job_finished");
        }
    }

    @Test
    void surveysAreRegisteredUnderAllowedPrefixesAndListedPerTeam() throws Exception {
        for (ControlFixture f : both()) {
            String a = f.token("surveyors", Scope.PREDICT, Scope.READ);
            String other = f.token("others", Scope.READ);
            String name = "farm-" + Long.toHexString(System.nanoTime());
            ControlFixture.Answer r = f.post("/v1/surveys", a, "{\"name\":\"" + name + "\",\"manifest\":\"" + f.home.resolve("surveys/demo").toUri() + "\"}");
            assertThat(r.status()).as(r.body()).isEqualTo(201);
            assertThat(r.json().get("tiles").asLong()).isEqualTo(24);
            assertThat(r.json().get("extent")).hasSize(4);
            assertThat(f.post("/v1/surveys", a, "{\"name\":\"" + name + "\",\"manifest\":\"" + f.home.resolve("surveys/demo").toUri() + "\"}").status())
                    .isEqualTo(409);
            assertThat(f.get("/v1/surveys/" + name, a).status()).isEqualTo(200);
            assertThat(f.get("/v1/surveys/" + name, other).status()).isEqualTo(404);
            assertThat(f.get("/v1/surveys/demo", other).status()).as("surveys found under the home are shared").isEqualTo(200);
        }
    }

    @Test
    void hostileInputIsRefusedAtTheEdge() throws Exception {
        for (ControlFixture f : both()) {
            String t = f.token("hostile", Scope.PREDICT, Scope.READ);
            // NUL cannot be stored: named, not a database error
            ControlFixture.Answer nul = f.post("/v1/surveys", t, "{\"name\":\"a\\u0000b\",\"manifest\":\"x\"}");
            assertThat(nul.status()).isEqualTo(400);
            assertThat(nul.code()).isEqualTo("bad_json");
            assertThat(f.get("/v1/labels?annotator=%00", t).code()).isEqualTo("bad_query");
            // a version number beyond int: a bad reference, not a crash
            assertThat(f.post("/v1/predictions", t, "{\"survey\":\"demo\",\"model\":\"weeds:99999999999\",\"area\":" + ControlFixture.areaJson(1) + "}")
                    .status()).isEqualTo(400);
            // a chunked body (no Content-Length) is bounded too
            java.net.http.HttpRequest chunked = java.net.http.HttpRequest.newBuilder(java.net.URI.create(f.base + "/v1/surveys"))
                    .header("Authorization", "Bearer " + t).header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.SequenceInputStream(
                            new java.io.ByteArrayInputStream("{\"name\":\"".getBytes()), new java.io.InputStream() {
                                long n = 0;

                                @Override
                                public int read() {
                                    return n++ < 8L * 1024 * 1024 ? 'x' : -1;
                                }
                            }))).build();
            assertThat(ControlFixture.HTTP.send(chunked, java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(413);
            // surveys only under the home's surveys/ folder: not the job folders beside it
            assertThat(f.post("/v1/surveys", t, "{\"name\":\"jobs\",\"manifest\":\"" + f.home.resolve("jobs").toUri() + "\"}").code())
                    .isEqualTo("uri_not_allowed");
        }
    }

    @Test
    void eventStreamsCheckAcceptAndVisibilityBeforeStreaming() {
        for (ControlFixture f : both()) {
            String t = f.token("streams", Scope.PREDICT, Scope.READ);
            assertThat(f.call("GET", "/v1/jobs/job_0123456789abcdef/events", t, null, "Accept", "text/event-stream").status()).isEqualTo(404);
            assertThat(f.call("GET", "/v1/jobs/job_0123456789abcdef/events", t, null, "Accept", "*/*").status()).isEqualTo(406);
        }
    }

    @Test
    void aTeamRetrainsOnlyModelsItOwns() {
        for (ControlFixture f : both()) {
            String suffix = Long.toHexString(System.nanoTime());
            String a = f.token("owners-a", Scope.TRAIN, Scope.READ);
            String b = f.token("owners-b", Scope.TRAIN, Scope.READ);
            String body = "{\"model\":\"mine-" + suffix + "\",\"survey\":\"demo\",\"budget\":{\"trials\":1,\"epochs\":1}}";
            assertThat(f.post("/v1/retrain", a, body).status()).isEqualTo(202);
            assertThat(f.post("/v1/retrain", a, body).status()).as("the owner again").isEqualTo(202);
            ControlFixture.Answer other = f.post("/v1/retrain", b, body);
            assertThat(other.status()).isEqualTo(403);
            assertThat(other.code()).isEqualTo("model_not_owned");
            // a model registered outside the control plane: admins only
            assertThat(f.post("/v1/retrain", a, "{\"model\":\"weeds\",\"survey\":\"demo\"}").code()).isEqualTo("model_not_owned");
            assertThat(f.post("/v1/retrain", f.token("ops", Scope.ADMIN), "{\"model\":\"weeds\",\"survey\":\"demo\"}").status()).isEqualTo(202);
        }
    }

    @Test
    void aReplayedSubmissionReturnsTheCallbackSecretItWasMadeWith() {
        for (ControlFixture f : both()) {
            String t = f.token("replay", Scope.PREDICT, Scope.READ);
            String body = ControlFixture.predictionBody(ControlFixture.areaJson(1), "http://127.0.0.1:9/hook");
            String key = "replay-" + System.nanoTime();
            ControlFixture.Answer first = f.post("/v1/predictions", t, body, "Idempotency-Key", key);
            ControlFixture.Answer again = f.post("/v1/predictions", t, body, "Idempotency-Key", key);
            assertThat(again.headers().firstValue("Idempotent-Replayed")).hasValue("true");
            assertThat(again.json().get("callback").get("secret").asText()).isEqualTo(first.json().get("callback").get("secret").asText());
            // a read-only token sees subscriptions but not their signing secrets
            String sub = f.post("/v1/webhooks", t, "{\"url\":\"http://127.0.0.1:9/x\"}").json().get("id").asText();
            assertThat(f.get("/v1/webhooks/" + sub, t).json().has("secret")).isTrue();
            assertThat(f.get("/v1/webhooks/" + sub, f.token("replay", Scope.READ)).json().has("secret")).isFalse();
        }
    }

    @Test
    void stageMovesAreAuditedAndAnnouncedToTheTeam() throws Exception {
        for (ControlFixture f : both()) {
            String admin = f.token("models-" + Long.toHexString(System.nanoTime()), Scope.ADMIN);
            ControlFixture.Answer moved = f.post("/v1/models/weeds/promote", admin, "{\"version\":1,\"stage\":\"staging\"}");
            assertThat(moved.status()).as(moved.body()).isEqualTo(200);
            assertThat(moved.json().get("stage").asText()).isEqualTo("staging");
            try (java.sql.Connection c = f.db.dataSource().getConnection(); java.sql.Statement st = c.createStatement();
                 java.sql.ResultSet r = st.executeQuery("SELECT type, team, payload::text FROM outbox WHERE type LIKE 'model.%' ORDER BY seq DESC LIMIT 1")) {
                assertThat(r.next()).isTrue();
                assertThat(r.getString(1)).isEqualTo("model.promoted");
                assertThat(r.getString(2)).startsWith("models-");
                assertThat(r.getString(3)).contains("weeds:1").contains("staging");
            }
            // back to production for the other tests
            assertThat(f.post("/v1/models/weeds/promote", admin, "{\"version\":1,\"stage\":\"production\"}").status()).isEqualTo(200);
            assertThat(f.post("/v1/models/weeds/promote", admin, "{\"version\":\"1\",\"stage\":\"production\"}").code()).isEqualTo("bad_field");
            assertThat(f.post("/v1/models/weeds/promote", admin, "{\"version\":7,\"stage\":\"production\"}").status()).isEqualTo(404);
        }
    }

    /** The dashboard's sign-in: a pasted token becomes an HttpOnly, SameSite=Strict cookie; changes need the CSRF token. */
    @Test
    void aSessionCookieActsForItsTokenAndChangesNeedTheCsrfToken() {
        for (ControlFixture f : both()) {
            assertThat(f.post("/ui/session", null, "{\"token\":\"cnp_" + "B".repeat(43) + "\"}").status()).isEqualTo(401);
            String token = f.token("browser", Scope.READ, Scope.PREDICT);
            ControlFixture.Answer in = f.post("/ui/session", null, "{\"token\":\"" + token + "\"}");
            assertThat(in.status()).as(in.body()).isEqualTo(201);
            String setCookie = in.headers().firstValue("set-cookie").orElseThrow();
            assertThat(setCookie).contains("HttpOnly").contains("SameSite=Strict").doesNotContain(token);
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            String csrf = in.json().get("csrf_token").asText();
            assertThat(f.call("GET", "/v1/jobs", null, null, "Cookie", cookie).status()).isEqualTo(200);
            String body = ControlFixture.predictionBody(ControlFixture.areaJson(1), null);
            ControlFixture.Answer forged = f.call("POST", "/v1/predictions", null, body, "Cookie", cookie);
            assertThat(forged.status()).isEqualTo(403);
            assertThat(forged.code()).isEqualTo("csrf");
            assertThat(f.call("POST", "/v1/predictions", null, body, "Cookie", cookie, "X-CSRF-Token", "wrong").code()).isEqualTo("csrf");
            assertThat(f.call("POST", "/v1/predictions", null, body, "Cookie", cookie, "X-CSRF-Token", csrf).status()).isEqualTo(202);
            assertThat(f.call("POST", "/v1/retrain", null, "{}", "Cookie", cookie, "X-CSRF-Token", csrf).code()).as("the token's scopes still apply")
                    .isEqualTo("missing_scope");
            // sign out needs the CSRF token too; afterwards the cookie is worth nothing
            assertThat(f.call("DELETE", "/ui/session", null, null, "Cookie", cookie).status()).isEqualTo(403);
            assertThat(f.call("DELETE", "/ui/session", null, null, "Cookie", cookie, "X-CSRF-Token", csrf).status()).isEqualTo(204);
            ControlFixture.Answer after = f.call("GET", "/v1/jobs", null, null, "Cookie", cookie);
            assertThat(after.status()).isEqualTo(401);
            assertThat(after.code()).isEqualTo("session_expired");
            // a revoked token ends its sessions at once
            ControlFixture.Answer again = f.post("/ui/session", null, "{\"token\":\"" + token + "\"}");
            String cookie2 = again.headers().firstValue("set-cookie").orElseThrow().split(";")[0];
            assertThat(f.tokens.revoke(dev.canopy.api.auth.Tokens.idOf(token), "test")).isTrue();
            assertThat(f.call("GET", "/v1/jobs", null, null, "Cookie", cookie2).status()).isEqualTo(401);
        }
    }
}
