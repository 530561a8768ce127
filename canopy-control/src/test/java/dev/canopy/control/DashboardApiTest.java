package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.batch.InferenceResult;
import dev.canopy.batch.PredictionShardWriter;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Classification;
import dev.canopy.storage.FileObjectStore;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the dashboard reads, on the PostgreSQL server: a batch-inference folder found under the home listed as a
 * read-only job for every team, its failed tiles, throughput and tile images (under the URI rules), the page's
 * session, the live list of jobs, the clusters' error codes, and the static shell with its CSP.
 */
class DashboardApiTest {
    static final List<String> CLASSES = List.of("native_grass", "invasive_weed", "shrub", "bare_soil", "water");
    @TempDir
    static Path tmp;
    static ControlFixture f;
    static List<ManifestRow> tiles;

    @BeforeAll
    static void start() throws Exception {
        Path home = tmp.resolve("home");
        ControlFixture.prepareHome(home);
        try (FileObjectStore survey = new FileObjectStore(home.resolve("surveys/demo")); Stream<ManifestRow> rows = Manifest.open(survey).rows()) {
            tiles = rows.limit(6).toList();
        }
        Path run = home.resolve("jobs/cli-run");
        writeJobFolder(run, home);
        // still being written (no _SUCCESS, no failed summary): not listed; the server's own folders are skipped too
        Files.createDirectories(home.resolve("jobs/half-done"));
        Files.writeString(home.resolve("jobs/half-done/_job.json"), "{\"job\": {\"modelRef\": \"weeds:1\"}}");
        Files.createDirectories(home.resolve("jobs/job_0123456789abcdef"));
        Files.writeString(home.resolve("jobs/job_0123456789abcdef/_job.json"), "{}");
        // failed without a summary (an exception): listed as failed, without the driver's message (it may name paths)
        Files.createDirectories(home.resolve("jobs/failed-run"));
        Files.writeString(home.resolve("jobs/failed-run/_job.json"), "{\"job\": {\"modelRef\": \"weeds:1\"}}");
        Files.writeString(home.resolve("jobs/failed-run/progress.json"), "{\"stage\": \"failed\", \"message\": \"calibration failed: /secret/path\", "
                + "\"startedAt\": \"2026-11-27T11:00:00Z\", \"updatedAt\": \"2026-11-27T11:00:05Z\"}");
        // links: a folder that is a link to elsewhere, and one whose shards are a link; neither is served
        Path outside = tmp.resolve("outside/elsewhere");
        writeJobFolder(outside, home);
        Files.createSymbolicLink(home.resolve("jobs/linked-run"), outside);
        writeJobFolder(home.resolve("jobs/linky-shards"), home);
        Path realShards = tmp.resolve("outside/shards");
        Files.move(home.resolve("jobs/linky-shards/shards"), realShards);
        Files.createSymbolicLink(home.resolve("jobs/linky-shards/shards"), realShards);
        f = new ControlFixture(home, false, s -> s);
    }

    /** A finished `canopy infer` folder: five tiles of the survey predicted, one failed, one row pointing outside the home. */
    static void writeJobFolder(Path run, Path home) throws Exception {
        Files.createDirectories(run.resolve("_committed"));
        Files.createDirectories(run.resolve("shards"));
        try (PredictionShardWriter w = new PredictionShardWriter(run.resolve("shards/part-00000.parquet"), CLASSES, Map.of())) {
            for (int i = 0; i < 4; i++) w.write(InferenceResult.ok(tiles.get(i), new Classification(CLASSES, new float[] {0.1f, 0.6f, 0.1f, 0.1f, 0.1f})));
            w.write(InferenceResult.error(tiles.get(4), "corrupt JPEG"));
            ManifestRow t = tiles.get(5);
            w.write(InferenceResult.ok(new ManifestRow("escape", "file:///etc/passwd", "passwd", t.row(), t.col(), t.bbox(), t.footprintWkb(), t.captureTime(),
                    t.dominantClass(), t.label(), t.cover()), new Classification(CLASSES, new float[] {0.6f, 0.1f, 0.1f, 0.1f, 0.1f})));
            // under the allowed prefix (the home's surveys) but in another survey than the job's: refused too
            Path other = home.resolve("surveys/other-team/tiles/x.jpg");
            Files.createDirectories(other.getParent());
            Files.write(other, new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0});
            w.write(InferenceResult.ok(new ManifestRow("neighbour", other.toUri().toString(), "x.jpg", t.row(), t.col(), t.bbox(), t.footprintWkb(), t.captureTime(),
                    t.dominantClass(), t.label(), t.cover()), new Classification(CLASSES, new float[] {0.6f, 0.1f, 0.1f, 0.1f, 0.1f})));
        }
        Files.writeString(run.resolve("_committed/part-00000.json"), "{\"index\": 0, \"stats\": {\"rows\": 7}, \"skipped\": false}");
        Files.writeString(run.resolve("_job.json"), "{\"job\": {\"surveyRoot\": \"" + home.resolve("surveys/demo").toUri()
                + "\", \"modelRef\": \"weeds:1\"}, \"createdAt\": \"2026-11-27T10:00:00Z\"}");
        Files.writeString(run.resolve("progress.json"), "{\"stage\": \"succeeded\", \"tilesPlanned\": 7, \"tilesDone\": 7, \"errors\": 1, "
                + "\"startedAt\": \"2026-11-27T10:00:01Z\", \"updatedAt\": \"2026-11-27T10:00:09Z\"}");
        Files.writeString(run.resolve("summary.json"), "{\"status\": \"succeeded\", \"rows\": 7, \"ok\": 6, \"errors\": 1, \"seconds\": 8.0, "
                + "\"imagesPerSecond\": 0.75, \"estimatedCover\": {\"native_grass\": 0.25, \"invasive_weed\": 0.75}, "
                + "\"stageSeconds\": {\"fetch_ms_mean\": 2.5, \"model_ms_mean\": 40.0}}");
        Files.writeString(run.resolve("_SUCCESS"), "");
    }

    @AfterAll
    static void stop() throws Exception {
        if (f != null) f.close();
    }

    /** The indexed jobs a token sees, by folder name. */
    static Map<String, JsonNode> indexed(String token) {
        ControlFixture.Answer a = f.get("/v1/jobs?limit=500", token);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        Map<String, JsonNode> found = new java.util.TreeMap<>();
        a.json().get("items").forEach(j -> {
            if (j.path("indexed").asBoolean(false)) found.put(j.get("request").get("name").asText(), j);
        });
        return found;
    }

    static JsonNode indexedJob(String token) {
        return indexed(token).get("cli-run");
    }

    @Test
    void aFinishedFolderUnderTheHomeIsListedReadOnlyForEveryTeam() throws Exception {
        String other = f.token("another-team", Scope.READ, Scope.PREDICT);
        JsonNode j = indexedJob(other);
        assertThat(j.get("status").asText()).isEqualTo("succeeded");
        assertThat(j.get("kind").asText()).isEqualTo("prediction");
        assertThat(j.get("model").asText()).isEqualTo("weeds:1");
        assertThat(j.get("request").get("name").asText()).isEqualTo("cli-run");
        assertThat(j.has("folder")).as("no server path in the answer").isFalse();
        JsonNode r = j.get("result");
        assertThat(indexed(other).keySet()).as("finished folders really under home/jobs, without links").containsExactly("cli-run", "failed-run");
        JsonNode failed = indexed(other).get("failed-run");
        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).isEqualTo("batch inference failed").doesNotContain("/secret");
        assertThat(r.get("tiles").asLong()).isEqualTo(7);
        assertThat(r.has("geoparquet")).as("no path of the operator's home for every team").isFalse();
        assertThat(r.get("errors").asLong()).isEqualTo(1);
        // an area-less job: its tiles' footprints are its area, and cover in hectares follows from it
        assertThat(r.get("area_hectares").asDouble()).isPositive();
        assertThat(r.get("cover").get("invasive_weed").get("hectares").asDouble()).isCloseTo(0.75 * r.get("area_hectares").asDouble(),
                org.assertj.core.data.Offset.offset(0.01));
        // read-only: a finished job cannot be cancelled
        assertThat(f.post("/v1/jobs/" + j.get("id").asText() + "/cancel", other, null).status()).isEqualTo(409);
        // indexing again (every start does) keeps the id and adds nothing
        String id = j.get("id").asText();
        f.server.index.indexFolders(f.home.resolve("jobs"));
        assertThat(indexedJob(other).get("id").asText()).isEqualTo(id);
        // its log is the operator's: admin tokens only
        assertThat(f.get("/v1/jobs/" + id + "/logs", other).code()).isEqualTo("log_not_shared");
        assertThat(f.get("/v1/jobs/" + id + "/logs", f.token("ops", Scope.ADMIN)).status()).isEqualTo(200);
    }

    @Test
    void aFolderRemovedFromTheHomeLeavesTheListAtTheNextIndexing() throws Exception {
        String t = f.token("t", Scope.READ);
        Path temp = f.home.resolve("jobs/temp-run");
        writeJobFolder(temp, f.home);
        f.server.index.indexFolders(f.home.resolve("jobs"));
        assertThat(indexed(t)).containsKey("temp-run");
        try (Stream<Path> all = Files.walk(temp)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        f.server.index.indexFolders(f.home.resolve("jobs"));
        assertThat(indexed(t)).doesNotContainKey("temp-run").containsKey("cli-run");
    }

    @Test
    void failedTilesAreListedPageByPage() {
        String t = f.token("t", Scope.READ);
        String id = indexedJob(t).get("id").asText();
        ControlFixture.Answer errors = f.get("/v1/jobs/" + id + "/features?status=error", t);
        assertThat(errors.status()).isEqualTo(200);
        assertThat(errors.json().get("features")).hasSize(1);
        assertThat(errors.json().get("features").get(0).get("id").asText()).isEqualTo(tiles.get(4).id());
        assertThat(errors.json().get("features").get(0).get("properties").get("error").asText()).isEqualTo("corrupt JPEG");
        // ok tiles a page of one at a time: every one once, in order, the cursor never skipping one
        List<String> seen = new ArrayList<>();
        String cursor = null;
        for (int pages = 0; pages < 10; pages++) {
            JsonNode p = f.get("/v1/jobs/" + id + "/features?status=ok&limit=1" + (cursor == null ? "" : "&cursor=" + cursor), t).json();
            p.get("features").forEach(x -> seen.add(x.get("id").asText()));
            cursor = p.path("next_cursor").asText(null);
            if (cursor == null) break;
        }
        assertThat(seen).containsExactly(tiles.get(0).id(), tiles.get(1).id(), tiles.get(2).id(), tiles.get(3).id(), "escape", "neighbour");
        assertThat(f.get("/v1/jobs/" + id + "/features?status=broken", t).code()).isEqualTo("bad_filter");
        assertThat(f.get("/v1/jobs/" + id + "/features?limit=10001", t).code()).isEqualTo("bad_limit");
    }

    @Test
    void tileImagesAreReadOnlyUnderTheAllowedPrefixes() throws Exception {
        String t = f.token("t", Scope.READ);
        String id = indexedJob(t).get("id").asText();
        HttpResponse<byte[]> img = ControlFixture.HTTP.send(HttpRequest.newBuilder(URI.create(f.base + "/v1/jobs/" + id + "/tiles/" + tiles.get(0).id() + "/image"))
                .header("Authorization", "Bearer " + t).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(img.statusCode()).isEqualTo(200);
        assertThat(img.headers().firstValue("content-type").orElse("")).isEqualTo("image/jpeg");
        assertThat(img.body()).isEqualTo(Files.readAllBytes(Path.of(URI.create(tiles.get(0).uri()))));
        // a row of the job pointing outside the home is refused before anything is read
        ControlFixture.Answer escape = f.get("/v1/jobs/" + id + "/tiles/escape/image", t);
        assertThat(escape.status()).isEqualTo(403);
        assertThat(escape.code()).isEqualTo("uri_not_allowed");
        assertThat(escape.body()).as("no path or prefix named").doesNotContain("/etc", f.home.toString());
        ControlFixture.Answer neighbour = f.get("/v1/jobs/" + id + "/tiles/neighbour/image", t);
        assertThat(neighbour.status()).as("allowed prefix, but outside the job's survey").isEqualTo(403);
        assertThat(f.get("/v1/jobs/" + id + "/tiles/nope/image", t).code()).isEqualTo("tile_not_found");
        assertThat(f.get("/v1/jobs/" + id + "/tiles/..%2F..%2Fetc/image", t).status()).isEqualTo(404);
        assertThat(f.get("/v1/jobs/job_0123456789abcdef/tiles/x/image", t).code()).isEqualTo("job_not_found");
        assertThat(TileImages.contentType(new byte[] {'<', 's', 'v', 'g'})).as("not an image a browser shows safely").isNull();
    }

    @Test
    void theTimelineHasOnePointPerCommittedShardAndTheStageTimes() {
        String t = f.token("t", Scope.READ);
        String id = indexedJob(t).get("id").asText();
        JsonNode tl = f.get("/v1/jobs/" + id + "/timeline", t).json();
        assertThat(tl.get("started_at").asText()).isEqualTo("2026-11-27T10:00:01Z");
        assertThat(tl.get("points")).hasSize(2);
        assertThat(tl.get("points").get(1).get(1).asLong()).isEqualTo(7);
        assertThat(tl.get("stages_ms_mean").get("model").asDouble()).isEqualTo(40.0);
        assertThat(f.get("/v1/jobs/" + id + "/area", t).code()).as("an area-less job").isEqualTo("no_area");
    }

    @Test
    void aPredictionsAreaIsServedForTheMapButNotInTheJobItself() {
        String t = f.token("mapper", Scope.READ, Scope.PREDICT);
        ControlFixture.Answer made = f.post("/v1/predictions", t, ControlFixture.predictionBody(ControlFixture.areaJson(1), null));
        assertThat(made.status()).as(made.body()).isEqualTo(202);
        String id = made.json().get("id").asText();
        JsonNode job = f.get("/v1/jobs/" + id, t).json();
        assertThat(job.get("has_area").asBoolean()).isTrue();
        assertThat(job.get("request").has("area")).isFalse();
        JsonNode area = f.get("/v1/jobs/" + id + "/area", t).json();
        assertThat(area.get("type").asText()).isEqualTo("Polygon");
        assertThat(area.get("coordinates").get(0)).hasSize(5);
        assertThat(f.get("/v1/jobs/" + id + "/area", f.token("someone-else", Scope.READ)).code()).as("another team's job").isEqualTo("job_not_found");
    }

    @Test
    void thePageAsksForItsSessionWithoutAnErrorAndGetsItsCsrfToken() throws Exception {
        ControlFixture.Answer none = f.get("/ui/session", null);
        assertThat(none.status()).isEqualTo(200);
        assertThat(none.json().get("signed_in").asBoolean()).isFalse();
        String t = f.token("ui", Scope.READ);
        ControlFixture.Answer in = f.post("/ui/session", null, "{\"token\": \"" + t + "\"}");
        String cookie = in.headers().firstValue("set-cookie").orElseThrow().split(";")[0];
        JsonNode again = f.call("GET", "/ui/session", null, null, "Cookie", cookie).json();
        assertThat(again.get("signed_in").asBoolean()).isTrue();
        assertThat(again.get("csrf_token").asText()).isEqualTo(in.json().get("csrf_token").asText());
        assertThat(again.get("scopes")).extracting(JsonNode::asText).containsExactly("read");
    }

    @Test
    void aChangeWithTheSessionCookieButWithoutItsCsrfTokenIsRefused() {
        String admin = f.token("ops", Scope.ADMIN);
        ControlFixture.Answer in = f.post("/ui/session", null, "{\"token\": \"" + admin + "\"}");
        String cookie = in.headers().firstValue("set-cookie").orElseThrow().split(";")[0];
        String csrf = in.json().get("csrf_token").asText();
        ControlFixture.Answer without = f.call("POST", "/v1/clusters", null, "{\"name\": \"csrf-test\", \"workers\": 0}", "Cookie", cookie);
        assertThat(without.status()).isEqualTo(403);
        assertThat(without.code()).isEqualTo("csrf");
        assertThat(f.call("POST", "/v1/clusters", null, "{\"name\": \"csrf-test\", \"workers\": 0}", "Cookie", cookie, "X-CSRF-Token", "wrong").code())
                .isEqualTo("csrf");
        // with it, the request reaches the route (which refuses the bad body on its own terms)
        assertThat(f.call("POST", "/v1/clusters", null, "{\"name\": \"../x\"}", "Cookie", cookie, "X-CSRF-Token", csrf).code()).isEqualTo("bad_name");
    }

    @Test
    void theLiveListSendsEveryVisibleJobAtOnceAndNoOtherTeamsJob() throws Exception {
        String theirs = f.post("/v1/predictions", f.token("their-team", Scope.PREDICT), ControlFixture.predictionBody(ControlFixture.areaJson(1), null))
                .json().get("id").asText();
        String t = f.token("live", Scope.READ);
        String id = indexedJob(t).get("id").asText();
        HttpResponse<Stream<String>> burst = ControlFixture.HTTP.send(HttpRequest.newBuilder(URI.create(f.base + "/v1/events/jobs"))
                .header("Authorization", "Bearer " + t).header("Accept", "text/event-stream").build(), HttpResponse.BodyHandlers.ofLines());
        List<String> ids = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            StringBuilder data = new StringBuilder();
            try {
                for (java.util.Iterator<String> it = burst.body().iterator(); it.hasNext(); ) {
                    String l = it.next();
                    if (l.startsWith("data:")) data.append(l.substring(5)).append('\n');
                    else if (l.isEmpty() && data.length() > 0) {
                        ids.add(Json.MAPPER.readTree(data.toString()).get("id").asText());
                        data.setLength(0);
                    }
                }
            } catch (Exception closed) {
                // the test closed the stream
            }
        });
        reader.setDaemon(true);
        reader.start();
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> ids.contains(id));
        Thread.sleep(1500); // the whole first burst, and a poll or two after it
        burst.body().close();
        assertThat(burst.statusCode()).isEqualTo(200);
        assertThat(ids).contains(id, indexed(t).get("failed-run").get("id").asText()).doesNotContain(theirs);
        assertThat(f.get("/v1/events/jobs", t).status()).as("without Accept: text/event-stream").isEqualTo(406);
    }

    @Test
    void clusterRequestsFailWithStableCodes() {
        String admin = f.token("ops", Scope.ADMIN);
        assertThat(f.get("/v1/clusters", admin).json().get("items")).isEmpty();
        assertThat(f.post("/v1/clusters", admin, "{\"name\": \"../etc\"}").code()).isEqualTo("bad_name");
        assertThat(f.post("/v1/clusters", admin, "{\"name\": \"ok\", \"workers\": 99}").code()).isEqualTo("bad_workers");
        assertThat(f.post("/v1/clusters", admin, "{\"name\": \"ok\", \"workers\": \"two\"}").code()).isEqualTo("bad_field");
        assertThat(f.post("/v1/clusters", admin, "{\"name\": \"ok\", \"worker_memory\": \"10k\"}").status()).isEqualTo(400);
        assertThat(f.post("/v1/clusters/nosuch/start", admin, null).status()).isEqualTo(404);
        assertThat(f.get("/v1/clusters/nosuch", admin).code()).isEqualTo("unknown");
        assertThat(f.post("/v1/clusters/nosuch/scale", admin, "{}").code()).isEqualTo("missing_field");
        assertThat(f.post("/v1/clusters/nosuch/scale", admin, "{\"workers\": null}").code()).as("null is not 0").isEqualTo("missing_field");
        assertThat(f.post("/v1/clusters", admin, "{\"name\": \"ok\", \"worker_memory\": \"99999999999999999999g\"}").code()).isEqualTo("bad_memory");
        assertThat(f.get("/v1/clusters/nosuch", admin).body()).as("no server path").doesNotContain(f.home.toString());
    }

    @Test
    void aClusterWhoseRecordCannotBeReadIsListedBrokenRefusedAChangeAndCanBeDeleted() throws Exception {
        String admin = f.token("ops", Scope.ADMIN);
        java.nio.file.Path dir = java.nio.file.Files.createDirectories(f.home.resolve("clusters/garbled"));
        java.nio.file.Files.writeString(dir.resolve("cluster.json"), "{not json");
        var items = f.get("/v1/clusters", admin).json().get("items");
        assertThat(items).hasSize(1);
        assertThat(items.get(0).get("state").asText()).isEqualTo("broken");
        assertThat(f.post("/v1/clusters/garbled/stop", admin, null).code()).isEqualTo("corrupt_record");
        assertThat(f.call("DELETE", "/v1/clusters/garbled", admin, null).status()).isEqualTo(204);
        assertThat(dir).doesNotExist();
        assertThat(f.get("/v1/clusters", admin).json().get("items")).isEmpty();
    }

    @Test
    void theShellIsPublicAndForbidsAnythingFromElsewhere() {
        ControlFixture.Answer page = f.get("/ui/", null);
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.body()).contains("<script src=\"app.js\"></script>").doesNotContain("http://", "https://");
        String csp = page.headers().firstValue("content-security-policy").orElse("");
        assertThat(csp).contains("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'").doesNotContain("unsafe-inline", "unsafe-eval");
        ControlFixture.Answer js = f.get("/ui/app.js", null);
        assertThat(js.status()).isEqualTo(200);
        assertThat(js.body().replace("'http://www.w3.org/2000/svg'", "")).doesNotContain("innerHTML", "eval(", "http://", "https://");
        assertThat(f.get("/v1/jobs", null).status()).as("the data behind it is not public").isEqualTo(401);
    }
}
