package dev.canopy.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.imagery.ImageDecodeException;
import dev.canopy.imagery.TileSource;
import dev.canopy.model.Classification;
import dev.canopy.api.Json;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.S3Settings;
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
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP model serving. Handlers are thin: they validate at the edge, hand images to the model's
 * {@link PredictorPool} (which batches across connections) and shape the answer. Every failure is
 * an exception that {@link ApiError#of} turns into a status and an RFC 9457 problem body, in one
 * place ({@link #mapErrors}).
 * <pre>
 *   POST /v1/models/{name}/predict   image/jpeg or image/png body, or {"uris": [...]} as application/json
 *   GET  /v1/models                  registered models and what is loaded
 *   GET  /healthz, /readyz, /metrics (Prometheus)
 * </pre>
 * Every /v1 route needs {@code Authorization: Bearer <token>} ({@link ServeSettings#auth()}: GET needs the
 * {@code read} scope, predict {@code predict}); 401 without a valid token, 403 without the scope.
 * /healthz and /readyz are public; /metrics is public on a loopback bind only.
 * Overload is refused at once with 429 and {@code Retry-After} (the queue is bounded); a request that
 * cannot be answered within the timeout gets 503, so no request waits longer than the timeout.
 *
 * <p>The JSON form reads objects only under the operator's allowed prefixes
 * ({@link ServeSettings#allowUris()}, none by default: 403), only regular files, and at most the body
 * size limit per object. A URI outside the prefixes is refused before any I/O, so the answer never
 * reveals whether it exists.
 *
 * <p>A request leases the model version it starts with ({@link ModelCache#acquire}) until it is
 * answered, so a version swap under load answers every request (some from the old version).
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
    private final Semaphore admitted;
    /** Decoding off the HTTP threads, bounded: a full queue is overload too. */
    private final ThreadPoolExecutor decoders;

    private ModelServer(ModelRegistry registry, ServeSettings settings, Clock clock, List<String> preload) {
        this.registry = registry;
        this.settings = settings;
        this.preload = List.copyOf(preload);
        this.cache = new ModelCache(registry, settings, clock, meters);
        this.admitted = new Semaphore(settings.queueCapacity());
        int cores = Runtime.getRuntime().availableProcessors();
        AtomicInteger n = new AtomicInteger();
        this.decoders = new ThreadPoolExecutor(cores, cores, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(settings.queueCapacity()), r -> {
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
        if (settings.auth() == null && !(settings.noAuth() && settings.loopback())) {
            throw new dev.canopy.api.CanopyException("serve.no_auth", settings.noAuth()
                    ? "--no-auth is refused on " + settings.host() + ": anyone who can reach it could use the models"
                    : "the server has no tokens to check", settings.noAuth() ? "bind to 127.0.0.1, or serve with tokens" : "give a TokenVerifier (canopy serve makes a token at first start)");
        }
        ModelServer s = new ModelServer(registry, settings, clock, preload);
        s.app.start(settings.host(), settings.port());
        s.ready = s.preload.isEmpty();
        try {
            for (String ref : s.preload) s.cache.preload(ref); // fails loudly if a model cannot be served
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        s.ready = true;
        return s;
    }

    public int port() {
        return app.port();
    }

    private void routes() {
        app.before(ctx -> ctx.attribute(STARTED, System.nanoTime()));
        // every /v1 route needs a token; /metrics too unless only this machine can reach the server
        app.before("/v1/*", ctx -> authorize(ctx, ctx.method() == io.javalin.http.HandlerType.GET || ctx.method() == io.javalin.http.HandlerType.HEAD
                ? TokenVerifier.Scope.READ : TokenVerifier.Scope.PREDICT));
        app.before("/metrics", ctx -> {
            if (!settings.loopback()) authorize(ctx, TokenVerifier.Scope.READ);
        });
        app.after(ctx -> {
            Long t0 = ctx.attribute(STARTED);
            String model = ctx.pathParamMap().getOrDefault("name", "-");
            if (t0 != null && ctx.path().startsWith("/v1/")) {
                if (ctx.res().getHeader("Server-Timing") == null) { // refusals and errors before any work say it too
                    ctx.header("Server-Timing", String.format(java.util.Locale.ROOT, "total;dur=%.1f", (System.nanoTime() - t0) / 1e6));
                }
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

    /** 401 without a valid bearer token, 403 without the scope; the token itself is never logged or echoed. */
    private void authorize(Context ctx, TokenVerifier.Scope scope) {
        if (settings.auth() == null) { // --no-auth on loopback (checked at start): refuse other Host names, so no web page can rebind to us
            String hostHeader = ctx.host() == null ? "" : ctx.host().replaceFirst(":\\d+$", "");
            if (!(hostHeader.equals("127.0.0.1") || hostHeader.equals("localhost") || hostHeader.equals("[::1]"))) {
                throw new ApiError(403, "bad_host", "without tokens this server answers only requests addressed to localhost");
            }
            return;
        }
        String h = ctx.header("Authorization");
        String token = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).trim() : null;
        TokenVerifier.Principal p = token == null ? null : settings.auth().verify(token).orElse(null);
        if (p == null) {
            ctx.header("WWW-Authenticate", "Bearer realm=\"canopy\"");
            throw new ApiError(401, "unauthorized", token == null ? "send Authorization: Bearer <token> (canopy serve printed one at first start)"
                    : "the token is unknown, revoked or expired");
        }
        if (!p.allows(scope)) throw new ApiError(403, "forbidden_scope", "this token lacks the '" + scope.name().toLowerCase() + "' scope");
        ctx.attribute("canopy.principal", p);
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
        long arrived = arrivalNanos(ctx);
        long deadline = arrived + settings.requestTimeout().toNanos();
        String type = ctx.contentType() == null ? "" : ctx.contentType().split(";")[0].trim().toLowerCase();
        if (!type.equals("image/jpeg") && !type.equals("image/png") && !type.equals("application/json")) {
            throw new ApiError(415, "unsupported_media_type", "send an image/jpeg or image/png body, or application/json {\"uris\": [...]}, not '" + type + "'");
        }
        byte[] body = ctx.bodyAsBytes();
        if (body.length == 0) throw new ApiError(400, "empty_body", "the request body is empty");
        boolean json = type.equals("application/json");
        List<URI> uris = json ? parseUris(body) : List.of(); // validated and checked against the policy before anything is admitted or read
        // one admission permit per image: a request of 200 URIs weighs as much as 200 image requests
        int permits = json ? Math.min(uris.size(), settings.queueCapacity()) : 1;
        if (!admitted.tryAcquire(permits)) throw ApiError.overloaded("too many images in progress");
        ModelCache.Served served;
        try {
            served = cache.acquire(ctx.pathParam("name"));
        } catch (RuntimeException e) {
            admitted.release(permits);
            throw e;
        }
        CompletableFuture<Map<String, Object>> work;
        try {
            work = json ? predictUris(served, uris, deadline)
                    : CompletableFuture.supplyAsync(() -> decode(served, body, deadline), decoders)
                            .thenCompose(t -> submit(served.pool(), t, deadline))
                            .thenApply(c -> {
                                Map<String, Object> out = header(served);
                                out.putAll(prediction(c));
                                return out;
                            });
        } catch (RejectedExecutionException full) {
            served.close();
            admitted.release(permits);
            throw ApiError.overloaded("the decode queue is full");
        }
        // the lease and the admission permits are held until the work itself is over, not just until the answer's deadline
        work.whenComplete((r, e) -> {
            served.close();
            admitted.release(permits);
        });
        CompletableFuture<Map<String, Object>> answer = work.copy().orTimeout(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        ctx.future(() -> answer.handle((result, error) -> {
            // the time this server held the request, from Jetty's receipt to the answer: a client that measures more waited elsewhere
            ctx.header("Server-Timing", String.format(java.util.Locale.ROOT, "total;dur=%.1f", (System.nanoTime() - arrived) / 1e6));
            if (error == null) ctx.json(result);
            else writeError(ctx, toApiError(error));
            return null;
        }));
    }

    private static Map<String, Object> header(ModelCache.Served served) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", served.version().name());
        out.put("version", served.version().version());
        return out;
    }

    private static long arrivalNanos(Context ctx) {
        long now = System.nanoTime();
        if (ctx.req() instanceof org.eclipse.jetty.server.Request jetty && jetty.getTimeStamp() > 0) {
            long waitedMillis = Math.max(0, System.currentTimeMillis() - jetty.getTimeStamp());
            return now - waitedMillis * 1_000_000L;
        }
        return now;
    }

    private static float[] decode(ModelCache.Served served, byte[] body, long deadline) {
        if (System.nanoTime() > deadline) throw new ApiError(503, "timeout", "no answer within the deadline; retry shortly", "1");
        try {
            return served.decoder().decode(body, "request body");
        } catch (ImageDecodeException e) {
            throw new ApiError(400, "bad_image", e.getMessage());
        }
    }

    /** The URIs of a JSON request, each checked against the allowed prefixes before anything is read. */
    private List<URI> parseUris(byte[] body) {
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
        if (settings.allowUris().isEmpty()) {
            throw new ApiError(403, "uri_not_allowed", "this server reads no URIs: its operator has not allowed any prefix ("
                    + ServeSettings.ALLOW_URIS_FLAG + "); send the image itself as the body instead");
        }
        List<URI> list = new ArrayList<>();
        for (JsonNode u : uris) {
            if (!u.isTextual()) throw new ApiError(400, "bad_request", "every entry of \"uris\" must be a string");
            try {
                list.add(settings.allowUris().check(u.asText())); // 403 for the whole request, before any I/O
            } catch (dev.canopy.storage.UriPolicy.Forbidden f) {
                throw new ApiError(403, "uri_not_allowed", f.oneLine());
            }
        }
        return list;
    }

    /** Fetches per request at once: a large request does not flood the store or the heap. */
    static final int FETCH_WINDOW = 4;

    private CompletableFuture<Map<String, Object>> predictUris(ModelCache.Served served, List<URI> uris, long deadline) {
        List<CompletableFuture<Map<String, Object>>> items = new ArrayList<>();
        for (int i = 0; i < uris.size(); i++) items.add(new CompletableFuture<>());
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        Runnable[] startNext = new Runnable[1];
        startNext[0] = () -> {
            int i = next.getAndIncrement();
            if (i >= uris.size()) return;
            URI u = uris.get(i);
            CompletableFuture<Classification> f;
            try {
                if (System.nanoTime() > deadline) throw new ApiError(503, "timeout", "no answer within the deadline; retry shortly", "1");
                f = source.fetch(u, settings.maxBodyBytes())
                        .thenApplyAsync(bytes -> {
                            if (System.nanoTime() > deadline) throw new ApiError(503, "timeout", "no answer within the deadline; retry shortly", "1");
                            return served.decoder().decode(bytes, u.toString());
                        }, decoders)
                        .thenCompose(t -> submit(served.pool(), t, deadline));
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.handle((c, e) -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("uri", u.toString());
                if (e == null) {
                    m.put("status", "ok");
                    m.putAll(prediction(c));
                    return m;
                }
                ApiError a = toApiError(e);
                if (a.code().equals("overloaded") || a.code().equals("timeout")) throw a; // overload and timeouts fail the whole request
                m.put("status", "error");
                m.put("code", a.code());
                m.put("error", a.getMessage());
                return m;
            }).whenComplete((m, e) -> {
                if (e == null) items.get(i).complete(m);
                else items.get(i).completeExceptionally(e);
                startNext[0].run(); // the next fetch of this request starts when one finishes
            });
        };
        for (int k = 0; k < Math.min(FETCH_WINDOW, uris.size()); k++) startNext[0].run();
        return CompletableFuture.allOf(items.toArray(CompletableFuture[]::new)).thenApply(v -> {
            Map<String, Object> out = header(served);
            out.put("predictions", items.stream().map(CompletableFuture::join).toList());
            return out;
        });
    }

    private static CompletableFuture<Classification> submit(PredictorPool<float[], Classification> pool, float[] tensor, long deadline) {
        try {
            return pool.trySubmit(tensor, deadline);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(ApiError.overloaded("the model's queue is full"));
        }
    }

    private ApiError toApiError(Throwable e) {
        ApiError a = ApiError.of(e, settings.requestTimeout().toMillis());
        if (a.status() >= 500 && !a.code().equals("timeout")) LOG.error("request failed", e);
        return a;
    }

    private static void writeError(Context ctx, ApiError e) {
        if (e.retryAfterSeconds() != null) ctx.header("Retry-After", e.retryAfterSeconds());
        ctx.status(e.status()).contentType(ApiError.PROBLEM_JSON).result(Json.writeString(e.problem()));
    }

    private static Map<String, Object> prediction(Classification c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("top_class", c.topClass());
        m.put("top_probability", c.topProbability());
        m.put("probabilities", c.byClass());
        return m;
    }

    /** The one place where failures become statuses. */
    private void mapErrors() {
        app.exception(HttpResponseException.class, (e, ctx) -> {
            String code = e.getStatus() == 413 ? "body_too_large" : "http_" + e.getStatus();
            String message = e.getStatus() == 413 ? "the body is larger than " + settings.maxBodyBytes() + " bytes" : e.getMessage();
            writeError(ctx, new ApiError(e.getStatus(), code, message));
        });
        app.exception(Exception.class, (e, ctx) -> writeError(ctx, toApiError(e)));
        app.error(404, ctx -> {
            if (ctx.result() == null || ctx.result().isEmpty()) writeError(ctx, new ApiError(404, "not_found", "no route " + ctx.method() + " " + ctx.path()));
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
