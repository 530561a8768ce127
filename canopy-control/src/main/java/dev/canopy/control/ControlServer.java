package dev.canopy.control;

import dev.canopy.api.CanopyException;
import dev.canopy.api.Json;
import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.imagery.AreaException;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.RegistryException;
import dev.canopy.serve.ApiError;
import dev.canopy.storage.S3Settings;
import io.javalin.Javalin;
import io.javalin.event.HandlerMetaInfo;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.openapi.plugin.OpenApiPlugin;
import io.javalin.security.RouteRole;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code canopy server}: the control plane's REST API (v1) over its database, with the job supervisor and
 * the webhook dispatcher running beside it.
 *
 * <p>Handlers are thin: they read the request at the edge ({@link Bodies}), call a store and shape the answer.
 * Every failure is an exception mapped to an RFC 9457 problem in one place ({@link #mapErrors}). Every
 * {@code /v1} route carries the scope it needs as its Javalin role; {@link #authorize} runs before any
 * matched route: 401 without a valid bearer token, 403 without the scope, 429 over the token's rate.
 * Public: {@code /healthz}, {@code /readyz}, {@code /openapi.json} (and {@code /metrics} on a loopback bind), and the
 * dashboard's static shell under {@code /ui} (its data comes from the same {@code /v1} routes, with a session cookie).
 */
public final class ControlServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);
    static final String CALLER = "canopy.caller";

    static {
        if (System.getProperty("jdk.httpclient.allowRestrictedHeaders") == null) System.setProperty("jdk.httpclient.allowRestrictedHeaders", "host");
    }

    final ControlSettings settings;
    final Clock clock;
    final TokenVerifier tokens;
    final Surveys surveys;
    final Jobs jobs;
    final Webhooks webhooks;
    final CallbackPolicy callbacks;
    final ModelRegistry registry;
    final Labels labels;
    final Models models;
    final Experiments experiments;
    final Sessions sessions;
    final JobIndex index;
    final TileImages tileImages;
    final dev.canopy.cluster.ClusterProvider clusters;
    final WarmPools warmPools;
    final ClusterRecords clusterRecords;
    final DataSource db;
    final JobSupervisor supervisor;
    final WebhookDispatcher dispatcher;
    private final RateLimiter limiter;
    final io.micrometer.prometheusmetrics.PrometheusMeterRegistry meters =
            new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
    private final List<HandlerMetaInfo> routes = new CopyOnWriteArrayList<>();
    private final Javalin app;
    private final JobEvents events;

    private ControlServer(DataSource db, TokenVerifier tokens, ModelRegistry registry, ControlSettings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
        this.tokens = new CachedVerifier(tokens, clock, CachedVerifier.DEFAULT_TTL);
        this.registry = registry;
        this.surveys = new Surveys(db, clock, settings.allowUris(), S3Settings.fromEnvironment());
        this.jobs = new Jobs(db, clock);
        this.webhooks = new Webhooks(db, clock);
        this.callbacks = new CallbackPolicy(settings.allowCallbacks());
        this.sessions = new Sessions(db, clock);
        this.index = new JobIndex(db, clock);
        this.tileImages = new TileImages(settings.allowUris(), S3Settings.fromEnvironment());
        this.db = db;
        this.warmPools = new WarmPools(db, clock, settings);
        this.clusterRecords = new ClusterRecords(db, clock);
        dev.canopy.cluster.Bundles bundles = bundles(settings.home(), clock);
        // waits on real processes; clusters made from a bundle start and scale from its jars
        this.clusters = dev.canopy.cluster.LocalClusterProvider.ofThisJvm(settings.home().resolve("clusters"), Clock.systemUTC(),
                digest -> bundles.materialize(bundles.require(digest)));
        this.labels = new Labels(db, clock);
        this.models = new Models(db, clock, registry);
        this.experiments = new Experiments(settings.home(), jobs);
        this.supervisor = new JobSupervisor(jobs, labels, models, settings);
        this.dispatcher = new WebhookDispatcher(db, clock, settings, callbacks, webhooks);
        this.limiter = new RateLimiter(settings.rateLimitPerSecond(), clock);
        this.events = new JobEvents(jobs, credential -> credential.startsWith("session:")
                ? sessions.find(credential.substring(8)).isPresent() : this.tokens.verify(credential.substring(7)).isPresent());
        io.micrometer.core.instrument.Gauge.builder("canopy.control.drivers.running", supervisor, JobSupervisor::runningCount)
                .description("driver processes this server runs").register(meters);
        this.app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.http.maxRequestSize = settings.maxBodyBytes();
            if (settings.httpThreads() > 0) {
                // Jetty needs a few threads of its own (acceptor, selector) beside the workers
                cfg.jetty.threadPool = new org.eclipse.jetty.util.thread.QueuedThreadPool(settings.httpThreads() + 4, Math.min(8, settings.httpThreads() + 4));
            }
            cfg.jsonMapper(new io.javalin.json.JavalinJackson(Json.MAPPER, false));
            cfg.events(e -> e.handlerAdded(routes::add));
            // the dashboard: static files shipped in the jar, public like a login page; its data needs a session
            cfg.staticFiles.add(sf -> {
                sf.hostedPath = "/ui";
                sf.directory = "/ui";
                sf.location = io.javalin.http.staticfiles.Location.CLASSPATH;
                sf.headers = Map.of("Content-Security-Policy", Dashboard.CSP, "X-Content-Type-Options", "nosniff", "Referrer-Policy", "no-referrer",
                        "Cache-Control", "no-cache");
            });
            cfg.registerPlugin(new OpenApiPlugin(o -> o.withDocumentationPath("/openapi.json")
                    .withDefinitionConfiguration((version, d) -> d.withInfo(i -> {
                        i.setTitle("Canopy control plane");
                        i.setVersion("1");
                        i.setDescription("Predictions over an area, jobs, surveys and signed webhooks. Every /v1 route needs "
                                + "'Authorization: Bearer <token>' (canopy token create); errors are RFC 9457 problems with a stable 'code'.");
                    }))));
        });
        Bodies.maxBody = settings.maxBodyBytes();
        app.beforeMatched(this::authorize);
        app.before(ctx -> {
            ctx.attribute("canopy.t0", System.nanoTime());
            ctx.header("X-Content-Type-Options", "nosniff"); // a log or a body is never run as a script or a page
        });
        app.after(ctx -> {
            Long t0 = ctx.attribute("canopy.t0");
            if (t0 == null || !ctx.path().startsWith("/v1/")) return;
            // the route's pattern, not the path: job ids must not become label values
            String route = ctx.endpointHandlerPath();
            io.micrometer.core.instrument.Timer.builder("canopy.control.requests").tag("method", ctx.method().name()).tag("route", route)
                    .tag("status", Integer.toString(ctx.statusCode())).publishPercentileHistogram().register(meters)
                    .record(System.nanoTime() - t0, java.util.concurrent.TimeUnit.NANOSECONDS);
        });
        new SystemRoutes(this).register(app);
        new SurveyRoutes(this).register(app);
        new PredictionRoutes(this).register(app);
        new JobRoutes(this, events).register(app);
        new WebhookRoutes(this).register(app);
        new ModelRoutes(this).register(app);
        new LabelRoutes(this).register(app);
        new RetrainRoutes(this).register(app);
        new SessionRoutes(this).register(app);
        new ClusterRoutes(this).register(app);
        mapErrors();
    }

    /**
     * Starts the API on {@code settings.host():settings.port()}, registers the survey folders found under the
     * Canopy home (shared with every team), and starts the supervisor and the dispatcher.
     */
    public static ControlServer start(DataSource db, TokenVerifier tokens, ModelRegistry registry, ControlSettings settings, Clock clock) {
        ControlServer s = new ControlServer(db, tokens, registry, settings, clock);
        try {
            s.surveys.registerFolders(settings.home().resolve("surveys"));
            int found = s.index.indexFolders(settings.home().resolve("jobs"));
            if (found > 0) LOG.info("listed {} job folder(s) found under {} (shared with every team, read-only)", found, settings.home().resolve("jobs"));
            s.app.start(settings.host(), settings.port());
            s.supervisor.start();
            s.dispatcher.start();
            s.events.start();
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    /** The home's bundles, as the CLI finds them ({@code $CANOPY_BUNDLES} or HOME/bundles). */
    static dev.canopy.cluster.Bundles bundles(java.nio.file.Path home, Clock clock) {
        return dev.canopy.cluster.Bundles.ofHome(home, clock);
    }

    public int port() {
        return app.port();
    }

    /** The routes as Javalin registered them: method, path and the scope each needs. */
    public List<HandlerMetaInfo> routes() {
        return List.copyOf(routes);
    }

    /** Stops every driver this server runs (tests); a normal {@link #close} leaves them running for the next server. */
    public void stopDrivers() {
        supervisor.stopDrivers();
    }

    private void authorize(Context ctx) {
        Set<RouteRole> roles = ctx.routeRoles();
        if (roles.isEmpty()) {
            // deny by default: a /v1 route registered without a scope is a bug, not a public route
            if (ctx.path().startsWith("/v1/")) throw new ApiError(500, "internal", "route has no scope; refusing");
            return;
        }
        authorizeWith(ctx, (Principals.Needs) roles.iterator().next());
    }

    private void authorizeWith(Context ctx, Principals.Needs need) {
        String h = ctx.header("Authorization");
        TokenVerifier.Principal p;
        String sid = h == null ? ctx.cookie(Sessions.COOKIE) : null;
        if (sid != null) {
            // a dashboard session: the cookie stands for the token; changes must also carry the session's CSRF token
            Sessions.Session session = sessions.find(sid).orElseThrow(() -> new ApiError(401, "session_expired",
                    "the session has ended (expired, logged out, or its token revoked); sign in again with a token"));
            boolean safe = ctx.method() == io.javalin.http.HandlerType.GET || ctx.method() == io.javalin.http.HandlerType.HEAD;
            if (!safe && !Sessions.sameSecret(ctx.header("X-CSRF-Token"), session.csrf())) {
                throw new ApiError(403, "csrf", "a change made with the session cookie needs the session's X-CSRF-Token header");
            }
            p = session.principal();
        } else {
            if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
                ctx.header("WWW-Authenticate", "Bearer");
                throw new ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>'; make a token with 'canopy token create'");
            }
            p = tokens.verify(h.substring(7).trim()).orElseThrow(() -> {
                ctx.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
                return new ApiError(401, "invalid_token", "the token is unknown, revoked or expired; make a new one with 'canopy token create'");
            });
        }
        if (!p.allows(need.scope)) {
            throw new ApiError(403, "missing_scope", "this token (" + p.tokenId() + ") lacks the '" + need.scope.name().toLowerCase(java.util.Locale.ROOT)
                    + "' scope this route needs; ask for a token with it");
        }
        long waitMillis = limiter.acquire(p.tokenId());
        if (waitMillis > 0) {
            throw new ApiError(429, "rate_limited", "too many requests for token " + p.tokenId() + "; slow down",
                    Long.toString(Math.max(1, (waitMillis + 999) / 1000)));
        }
        String q = ctx.queryString();
        if (q != null && (q.contains("%00") || q.indexOf('\0') >= 0)) throw new ApiError(400, "bad_query", "the query string contains a NUL character");
        ctx.attribute(CALLER, new Principals.Caller(p));
    }

    /** The token check of a route that is public only sometimes ({@code /metrics} beyond loopback). */
    void authorizeManually(Context ctx, Principals.Needs need) {
        authorizeWith(ctx, need);
    }

    static Principals.Caller caller(Context ctx) {
        Principals.Caller c = ctx.attribute(CALLER);
        if (c == null) throw new ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>'");
        return c;
    }

    private void mapErrors() {
        app.exception(Exception.class, (e, ctx) -> {
            ApiError a = toApiError(e);
            if (a.status() >= 500) LOG.warn("{} {} failed", ctx.method(), ctx.path(), e);
            problem(ctx, a);
        });
        // Javalin's own answers (unknown route, body too large, wrong method) take the same form
        app.error(404, ctx -> {
            if (!isProblem(ctx)) problem(ctx, new ApiError(404, "not_found", "no route " + ctx.method() + " " + Page.abbreviate(ctx.path())
                    + "; the routes are listed at /openapi.json"));
        });
        app.error(405, ctx -> {
            if (!isProblem(ctx)) problem(ctx, new ApiError(405, "method_not_allowed", ctx.method() + " is not allowed on " + Page.abbreviate(ctx.path())));
        });
    }

    private static boolean isProblem(Context ctx) {
        String ct = ctx.res().getContentType();
        return ct != null && ct.startsWith(ApiError.PROBLEM_JSON);
    }

    static ApiError toApiError(Throwable e) {
        if (e instanceof HttpResponseException h) {
            int s = h.getStatus();
            String code = s == 413 ? "body_too_large" : s == 404 ? "not_found" : s == 405 ? "method_not_allowed" : "http_" + s;
            return new ApiError(s, code, h.getMessage());
        }
        if (e instanceof AreaException a) return new ApiError(400, "bad_area", a.oneLine());
        if (e instanceof RegistryException r) {
            // the message may name the registry's location: not for clients
            return r.kind().isNotFound() ? new ApiError(404, "model_not_found", "no such model, version or stage; list models with canopy model list")
                    : new ApiError(400, "bad_model", "invalid model reference; write NAME:VERSION or NAME@STAGE");
        }
        if (e instanceof CanopyException c && c.code().startsWith("db.") && c.getCause() instanceof java.sql.SQLException q && q.getSQLState() != null
                && (q.getSQLState().startsWith("22") || q.getSQLState().startsWith("23"))) {
            // data exceptions and constraint violations come from the request's values, not from an outage
            return new ApiError(400, "bad_value", "a value in the request cannot be stored (" + q.getSQLState() + "); check text, numbers and times");
        }
        if (e instanceof CanopyException c && c.code().startsWith("db.")) {
            return new ApiError(503, "database_unavailable", "the database is unavailable; retry shortly", "1");
        }
        return ApiError.of(e, 0);
    }

    static void problem(Context ctx, ApiError a) {
        if (a.retryAfterSeconds() != null) ctx.header("Retry-After", a.retryAfterSeconds());
        ctx.status(a.status()).contentType(ApiError.PROBLEM_JSON).result(Json.writeString(a.problem()));
    }

    @Override
    public void close() {
        try {
            app.stop();
        } finally {
            events.close();
            dispatcher.close();
            supervisor.close();
        }
    }
}
