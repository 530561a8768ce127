package dev.canopy.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.canopy.api.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The control plane's REST API from Java. Every call sends the bearer token; an error answer becomes an
 * {@link ApiException} with the server's stable {@code code}. Overload answers (429, 503) are retried after
 * their {@code Retry-After}, a few times, for reads and for submissions that carry an idempotency key.
 * <pre>{@code
 * CanopyClient c = new CanopyClient(URI.create("http://127.0.0.1:8790"), token);
 * JsonNode job = c.predict("farm-7", Files.readString(area), "weeds@production", null, UUID.randomUUID().toString());
 * JsonNode done = c.waitFor(job.get("id").asText(), Duration.ofHours(1), p -> {});
 * }</pre>
 * Threads: any; the client is immutable.
 */
public final class CanopyClient {
    /** An error answer: HTTP status, the stable code and the server's explanation. */
    public static final class ApiException extends RuntimeException {
        private final int status;
        private final String code;

        public ApiException(int status, String code, String detail) {
            super(detail + " (" + status + " " + code + ")");
            this.status = status;
            this.code = code;
        }

        public int status() { return status; }
        public String code() { return code; }
    }

    private static final int RETRIES = 4;
    private final URI base;
    private final String token;
    private final HttpClient http;

    public CanopyClient(URI base, String token) {
        String b = base.toString();
        this.base = URI.create(b.endsWith("/") ? b.substring(0, b.length() - 1) : b);
        this.token = token;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** Submits a prediction; {@code callbackUrl} and {@code idempotencyKey} may be null. */
    public JsonNode predict(String survey, String areaGeoJson, String model, String callbackUrl, String idempotencyKey) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("survey", survey);
        body.put("model", model);
        try {
            body.set("area", Json.MAPPER.readTree(areaGeoJson));
        } catch (IOException e) {
            throw new IllegalArgumentException("the area is not JSON: " + e.getMessage(), e);
        }
        if (callbackUrl != null) body.putObject("callback").put("url", callbackUrl);
        return send("POST", "/v1/predictions", body.toString(), idempotencyKey);
    }

    public JsonNode job(String id) {
        return send("GET", "/v1/jobs/" + enc(id), null, null);
    }

    /** One page of jobs, newest first; filters by kind, status, model (null: any). */
    public JsonNode jobs(String kind, String status, String model, String cursor, int limit) {
        Map<String, String> q = new LinkedHashMap<>();
        if (kind != null) q.put("kind", kind);
        if (status != null) q.put("status", status);
        if (model != null) q.put("model", model);
        if (cursor != null) q.put("cursor", cursor);
        q.put("limit", Integer.toString(limit));
        return send("GET", "/v1/jobs" + query(q), null, null);
    }

    public JsonNode cancel(String id) {
        return send("POST", "/v1/jobs/" + enc(id) + "/cancel", null, null);
    }

    /** The driver's log from {@code offset}: [text, size of the whole log]. */
    public String[] logs(String id, long offset) {
        HttpResponse<String> r = exchange("GET", "/v1/jobs/" + enc(id) + "/logs?offset=" + offset, null, null, true);
        return new String[] {r.body(), r.headers().firstValue("X-Log-Size").orElse("0")};
    }

    public JsonNode surveys() {
        return send("GET", "/v1/surveys?limit=500", null, null);
    }

    public JsonNode registerSurvey(String name, String manifestUri) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("name", name).put("manifest", manifestUri);
        return send("POST", "/v1/surveys", body.toString(), null);
    }

    /** Subscribes {@code url} to {@code eventTypes} (empty: every type); the answer holds the secret. */
    public JsonNode subscribe(String url, List<String> eventTypes) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("url", url);
        var arr = body.putArray("event_types");
        eventTypes.forEach(arr::add);
        return send("POST", "/v1/webhooks", body.toString(), null);
    }

    /** Stores labels for a survey: {@code labels} is the array of {tile_id | geometry, class, annotator, time}. */
    public JsonNode ingestLabels(String survey, JsonNode labels) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("survey", survey);
        body.set("labels", labels);
        return send("POST", "/v1/labels", body.toString(), null);
    }

    /** Starts a retraining: {@code request} as POST /v1/retrain takes it (model, survey, labels query, search_space, budget, margin). */
    public JsonNode retrain(JsonNode request, String idempotencyKey) {
        return send("POST", "/v1/retrain", request.toString(), idempotencyKey);
    }

    /** A model's versions (metrics, provenance, approval, stage) and stage history. */
    public JsonNode model(String name) {
        return send("GET", "/v1/models/" + enc(name), null, null);
    }

    public JsonNode approve(String name, int version, String reason) {
        return send("POST", "/v1/models/" + enc(name) + "/versions/" + version + "/approve", reasonBody(reason), null);
    }

    public JsonNode reject(String name, int version, String reason) {
        return send("POST", "/v1/models/" + enc(name) + "/versions/" + version + "/reject", reasonBody(reason), null);
    }

    public JsonNode promote(String name, int version, String stage) {
        return send("POST", "/v1/models/" + enc(name) + "/promote", Json.MAPPER.createObjectNode().put("version", version).put("stage", stage).toString(), null);
    }

    public JsonNode rollback(String name, String stage) {
        return send("POST", "/v1/models/" + enc(name) + "/rollback", Json.MAPPER.createObjectNode().put("stage", stage).toString(), null);
    }

    private static String reasonBody(String reason) {
        return reason == null ? "{}" : Json.MAPPER.createObjectNode().put("reason", reason).toString();
    }

    /** The server's Spark clusters (create, scale, start, stop with an admin token). */
    public Clusters clusters() {
        return new Clusters(this);
    }

    JsonNode call(String method, String path, String body) {
        return send(method, path, body, null);
    }

    public JsonNode deleteWebhook(String id) {
        return send("DELETE", "/v1/webhooks/" + enc(id), null, null);
    }

    /**
     * Polls a job once a second until it ends or {@code timeout} passes; {@code onChange} sees every new state.
     * Returns the final job (whatever its status); throws {@link ApiException} {@code wait_timeout} on time out.
     */
    public JsonNode waitFor(String id, Duration timeout, Consumer<JsonNode> onChange) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        JsonNode last = null;
        while (true) {
            JsonNode j = job(id);
            if (!j.equals(last)) onChange.accept(j);
            last = j;
            String s = j.path("status").asText();
            if (s.equals("succeeded") || s.equals("failed") || s.equals("cancelled")) return j;
            if (System.nanoTime() > end) throw new ApiException(0, "wait_timeout", "job " + id + " is still " + s + " after " + timeout);
            Thread.sleep(1000);
        }
    }

    private JsonNode send(String method, String path, String body, String idempotencyKey) {
        HttpResponse<String> r = exchange(method, path, body, idempotencyKey, method.equals("GET") || idempotencyKey != null);
        if (r.body() == null || r.body().isEmpty()) return Json.MAPPER.createObjectNode();
        try {
            return Json.MAPPER.readTree(r.body());
        } catch (IOException e) {
            throw new ApiException(r.statusCode(), "bad_answer", "the server answered something that is not JSON");
        }
    }

    private HttpResponse<String> exchange(String method, String path, String body, String idempotencyKey, boolean retryable) {
        for (int attempt = 0; ; attempt++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
            if (token != null) b.header("Authorization", "Bearer " + token);
            if (body != null) b.header("Content-Type", "application/json");
            if (idempotencyKey != null) b.header("Idempotency-Key", idempotencyKey);
            HttpResponse<String> r;
            try {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new ApiException(0, "unreachable", "cannot reach the Canopy server at " + base + ": " + e.getMessage()
                        + "; is 'canopy server' running, and is CANOPY_SERVER right?");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiException(0, "interrupted", "interrupted");
            }
            int s = r.statusCode();
            if ((s == 429 || s == 503) && retryable && attempt < RETRIES) {
                long wait = r.headers().firstValue("Retry-After").filter(v -> v.matches("\\d{1,4}")).map(Long::parseLong).orElse(1L);
                try {
                    Thread.sleep(Math.min(30, wait) * 1000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ApiException(0, "interrupted", "interrupted");
                }
                continue;
            }
            if (s >= 400) {
                String code = "http_" + s, detail = r.body();
                try {
                    JsonNode p = Json.MAPPER.readTree(r.body());
                    code = p.path("code").asText(code);
                    detail = p.path("detail").asText(detail);
                } catch (IOException | RuntimeException notProblem) {
                    // keep the raw body
                }
                throw new ApiException(s, code, detail);
            }
            return r;
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String query(Map<String, String> q) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : q.entrySet()) sb.append(sb.length() == 0 ? '?' : '&').append(enc(e.getKey())).append('=').append(enc(e.getValue()));
        return sb.toString();
    }
}
