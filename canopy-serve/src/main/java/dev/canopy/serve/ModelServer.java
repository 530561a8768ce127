package dev.canopy.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.CanopyException;
import dev.canopy.imagery.ImageDecodeException;
import dev.canopy.model.Json;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.S3Settings;
import dev.canopy.imagery.TileSource;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP model serving. Handlers are thin: they validate at the edge, hand images to the model's
 * {@link PredictorPool} (which batches across connections) and shape the answer. Every failure is
 * an exception mapped to a status in one place ({@link #mapErrors}) with a JSON body {@code {code, message}}.
 * <pre>
 *   POST /v1/models/{name}/predict   image/jpeg or image/png body, or {"uris": [...]} as application/json
 *   GET  /v1/models                  registered models and what is loaded
 *   GET  /healthz, /readyz, /metrics (Prometheus)
 * </pre>
 * Overload is refused at once with 429 and {@code Retry-After} (the queue is bounded); a request that
 * cannot be answered within the timeout gets 503, so no request waits longer than the timeout.
 */
public final class ModelServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelServer.class);
    private static final String STARTED = "canopy.started";

    private final Javalin app;
    private final ModelCache cache;
    private final ModelRegistry registry;
    private final ServeSettings settings;
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final TileSource source = new TileSource(null, S3Settings.fromEnvironment());
    private final List<String> preload;
    private volatile boolean ready;
    /** Requests between admission and answer; beyond this the server refuses at once instead of queueing. */
    private final java.util.concurrent.Semaphore admitted;
    /** Decoding off the HTTP threads, bounded: a full queue is overload too. */
    private final java.util.concurrent.ThreadPoolExecutor decoders;

    private ModelServer(ModelRegistry registry, ServeSettings settings, Clock clock, List<String> preload) {
        this.registry = registry;
        this.settings = settings;
        this.preload = List.copyOf(preload);
        this.cache = new ModelCache(registry, settings, clock, meters);
        this.admitted = new java.util.concurrent.Semaphore(settings.queueCapacity());
        int cores = Runtime.getRuntime().availableProcessors();
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        this.decoders = new java.util.concurrent.ThreadPoolExecutor(cores, cores, 30, TimeUnit.SECONDS,
                new java.util.concurrent.ArrayBlockingQueue<>(settings.queueCapacity()), r -> {
                    Thread t = new Thread(r, "canopy-serve-decode-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.http.maxRequestSize = settings.maxBodyBytes();
        });
        routes();
        mapErrors();
    }

    /** Starts a server on {@code settings.host():settings.port()} (port 0: any free port) and loads {@code preload}. */
    public static ModelServer start(ModelRegistry registry, ServeSettings settings, Clock clock, List<String> preload) {
        ModelServer s = new ModelServer(registry, settings, clock, preload);
        s.app.start(settings.host(), settings.port());
        s.ready = s.preload.isEmpty();
        for (String ref : s.preload) s.cache.get(ref); // fails loudly if a model cannot be served
        s.ready = true;
        return s;
    }

    public int port() {
        return app.port();
    }

    private void routes() {
        app.before(ctx -> ctx.attribute(STARTED, System.nanoTime()));
        app.after(ctx -> {
            Long t0 = ctx.attribute(STARTED);
            String model = ctx.pathParamMap().getOrDefault("name", "-");
            if (t0 != null && ctx.path().startsWith("/v1/")) {
                Timer.builder("canopy.requests").tag("model", model).tag("status", Integer.toString(ctx.statusCode()))
                        .publishPercentileHistogram().register(meters).record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
            }
        });
        app.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
        app.get("/readyz", ctx -> {
            if (ready) ctx.json(Map.of("status", "ready", "models", cache.loaded().stream().map(s -> s.version().ref()).toList()));
            else throw new ApiError(503, "not_ready", "models are still loading");
        });
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(meters.scrape()));
        app.get("/v1/models", this::listModels);
        app.post("/v1/models/{name}/predict", this::predict);
    }

    private void listModels(Context ctx) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String name : registry.names()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            List<ModelRegistry.Version> vs = registry.versions(name);
            m.put("versions", vs.size());
            vs.stream().filter(v -> v.stage().equals("production")).findFirst().ifPresent(v -> m.put("production", v.version()));
            cache.loaded().stream().filter(s -> s.version().name().equals(name)).findFirst().ifPresent(s -> {
                m.put("loaded_version", s.version().version());
                m.put("classes", s.card().classes());
                m.put("input_size", s.card().inputSize());
            });
            out.add(m);
        }
        ctx.json(Map.of("models", out));
    }

    /**
     * Admission, then asynchronous work: the HTTP thread returns at once, decoding runs on the bounded
     * decode pool and prediction on the model's pool. The deadline counts from when the request arrived.
     */
    private void predict(Context ctx) {
        long deadline = arrivalNanos(ctx) + settings.requestTimeout().toNanos();
        String type = ctx.contentType() == null ? "" : ctx.contentType().split(";")[0].trim().toLowerCase();
        if (!type.equals("image/jpeg") && !type.equals("image/png") && !type.equals("application/json")) {
            throw new ApiError(415, "unsupported_media_type", "send an image/jpeg or image/png body, or application/json {\"uris\": [...]}, not '" + type + "'");
        }
        byte[] body = ctx.bodyAsBytes();
        if (body.length == 0) throw new ApiError(400, "empty_body", "the request body is empty");
        ModelCache.Served served = cache.get(ctx.pathParam("name"));
        if (!admitted.tryAcquire()) throw new ApiError(429, "overloaded", "too many requests in progress; retry shortly", "1");
        CompletableFuture<Map<String, Object>> answer;
        try {
            answer = type.equals("application/json") ? CompletableFuture.supplyAsync(() -> predictUris(served, body, deadline), decoders)
                    : CompletableFuture.supplyAsync(() -> decode(served, body), decoders)
                            .thenCompose(t -> submit(served.pool(), t, deadline))
                            .thenApply(p -> {
                                Map<String, Object> out = new LinkedHashMap<>();
                                out.put("model", served.version().name());
                                out.put("version", served.version().version());
                                out.putAll(prediction(served, p));
                                return out;
                            });
        } catch (RejectedExecutionException full) {
            admitted.release();
            throw new ApiError(429, "overloaded", "the decode queue is full; retry shortly", "1");
        }
        CompletableFuture<Map<String, Object>> bounded = answer.orTimeout(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        ctx.future(() -> bounded.handle((result, error) -> {
            admitted.release();
            if (error == null) ctx.json(result);
            else writeError(ctx, toApiError(error));
            return null;
        }));
    }

    private static long arrivalNanos(Context ctx) {
        long now = System.nanoTime();
        if (ctx.req() instanceof org.eclipse.jetty.server.Request jetty && jetty.getTimeStamp() > 0) {
            long waitedMillis = Math.max(0, System.currentTimeMillis() - jetty.getTimeStamp());
            return now - waitedMillis * 1_000_000L;
        }
        return now;
    }

    private static float[] decode(ModelCache.Served served, byte[] body) {
        try {
            return served.decoder().decode(body, "request body");
        } catch (ImageDecodeException e) {
            throw new ApiError(400, "bad_image", e.getMessage());
        }
    }

    private Map<String, Object> predictUris(ModelCache.Served served, byte[] body, long deadline) {
        JsonNode req;
        try {
            req = Json.MAPPER.readTree(body);
        } catch (java.io.IOException e) {
            throw new ApiError(400, "bad_json", "the body is not valid JSON: " + e.getMessage());
        }
        JsonNode uris = req == null ? null : req.get("uris");
        if (uris == null || !uris.isArray() || uris.isEmpty()) throw new ApiError(400, "bad_request", "give {\"uris\": [\"s3://...\", ...]} with at least one URI");
        if (uris.size() > settings.maxUrisPerRequest()) {
            throw new ApiError(413, "too_many_uris", uris.size() + " URIs in one request; the limit is " + settings.maxUrisPerRequest());
        }
        List<String> list = new ArrayList<>();
        uris.forEach(u -> list.add(u.asText()));
        List<CompletableFuture<float[]>> futures = new ArrayList<>();
        for (String u : list) {
            CompletableFuture<float[]> f;
            try {
                URI uri = URI.create(u);
                f = source.fetch(uri).thenApply(bytes -> served.decoder().decode(bytes, u))
                        .thenCompose(t -> submit(served.pool(), t, deadline));
            } catch (IllegalArgumentException | CanopyException e) {
                f = CompletableFuture.failedFuture(e);
            }
            futures.add(f);
        }
        List<Map<String, Object>> preds = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("uri", list.get(i));
            try {
                float[] p = await(futures.get(i), deadline);
                m.put("status", "ok");
                m.putAll(prediction(served, p));
            } catch (ApiError e) {
                if (e.status() == 429 || e.status() == 503) throw e;
                m.put("status", "error");
                m.put("error", e.getMessage());
            }
            preds.add(m);
        }
        return Map.of("model", served.version().name(), "version", served.version().version(), "predictions", preds);
    }

    private static CompletableFuture<float[]> submit(PredictorPool pool, float[] tensor, long deadline) {
        try {
            return pool.trySubmit(tensor, deadline);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new ApiError(429, "overloaded", "the model's queue is full; retry shortly", "1"));
        }
    }

    private float[] await(CompletableFuture<float[]> f, long deadline) {
        try {
            return f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "interrupted", "the server is stopping", "1");
        } catch (TimeoutException | ExecutionException e) {
            throw toApiError(e);
        }
    }

    /** Every failure of a prediction, as the status and code the client sees. */
    private ApiError toApiError(Throwable e) {
        Throwable c = e;
        while ((c instanceof java.util.concurrent.CompletionException || c instanceof ExecutionException) && c.getCause() != null) c = c.getCause();
        String late = "no answer within " + settings.requestTimeout().toMillis() + " ms; retry shortly";
        if (c instanceof ApiError a) return a;
        if (c instanceof TimeoutException || c instanceof PredictorPool.DeadlineExceeded) return new ApiError(503, "timeout", late, "1");
        if (c instanceof RejectedExecutionException) return new ApiError(429, "overloaded", "the server is at capacity; retry shortly", "1");
        if (c instanceof ImageDecodeException) return new ApiError(400, "bad_image", c.getMessage());
        if (c instanceof dev.canopy.storage.StorageException.NotFound) return new ApiError(404, "object_not_found", c.getMessage());
        if (c instanceof CanopyException ce) return new ApiError(400, ce.code(), ce.getMessage());
        LOG.error("prediction failed", c);
        return new ApiError(500, "prediction_failed", String.valueOf(c));
    }

    private static void writeError(Context ctx, ApiError e) {
        if (e.retryAfterSeconds() != null) ctx.header("Retry-After", e.retryAfterSeconds());
        ctx.status(e.status()).json(Map.of("code", e.code(), "message", e.getMessage()));
    }

    private static Map<String, Object> prediction(ModelCache.Served served, float[] p) {
        List<String> classes = served.card().classes();
        int top = 0;
        for (int i = 1; i < p.length; i++) if (p[i] > p[top]) top = i;
        Map<String, Object> probs = new LinkedHashMap<>();
        for (int i = 0; i < p.length; i++) probs.put(classes.get(i), p[i]);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("top_class", classes.get(top));
        m.put("top_probability", p[top]);
        m.put("probabilities", probs);
        return m;
    }

    /** The one place where failures become statuses. */
    private void mapErrors() {
        app.exception(ApiError.class, (e, ctx) -> writeError(ctx, e));
        app.exception(HttpResponseException.class, (e, ctx) -> {
            String code = e.getStatus() == 413 ? "body_too_large" : "http_" + e.getStatus();
            String message = e.getStatus() == 413 ? "the body is larger than " + settings.maxBodyBytes() + " bytes" : e.getMessage();
            ctx.status(e.getStatus()).json(Map.of("code", code, "message", message));
        });
        app.exception(CanopyException.class, (e, ctx) -> ctx.status(400).json(Map.of("code", e.code(), "message", e.getMessage())));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("unexpected error on {}", ctx.path(), e);
            ctx.status(500).json(Map.of("code", "internal", "message", String.valueOf(e)));
        });
    }

    public PrometheusMeterRegistry meters() {
        return meters;
    }

    public ModelCache cache() {
        return cache;
    }

    @Override
    public void close() {
        app.stop();
        decoders.shutdownNow();
        cache.close();
        source.close();
    }
}
