package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.CanopyException;
import dev.canopy.cluster.ClusterProvider;
import dev.canopy.cluster.ClusterSpec;
import dev.canopy.cluster.ClusterStatus;
import dev.canopy.serve.ApiError;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.openapi.HttpMethod;
import io.javalin.openapi.OpenApi;
import io.javalin.openapi.OpenApiContent;
import io.javalin.openapi.OpenApiParam;
import io.javalin.openapi.OpenApiRequestBody;
import io.javalin.openapi.OpenApiResponse;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * {@code /v1/clusters}: the Spark clusters of this host (the same ones {@code canopy cluster} manages), to look at
 * with the {@code read} scope and to create, scale, start and stop with {@code admin}. Calls block while processes
 * start or stop (a few seconds); the provider serialises calls on one cluster.
 */
final class ClusterRoutes {
    private final ControlServer server;

    ClusterRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.get("/v1/clusters", this::list, Principals.Needs.READ);
        app.get("/v1/clusters/{name}", this::show, Principals.Needs.READ);
        app.post("/v1/clusters", this::create, Principals.Needs.ADMIN);
        app.post("/v1/clusters/{name}/scale", this::scale, Principals.Needs.ADMIN);
        app.post("/v1/clusters/{name}/start", this::start, Principals.Needs.ADMIN);
        app.post("/v1/clusters/{name}/stop", this::stop, Principals.Needs.ADMIN);
        app.post("/v1/clusters/{name}/warm-pool", this::warmPool, Principals.Needs.ADMIN);
        app.delete("/v1/clusters/{name}", this::delete, Principals.Needs.ADMIN);
    }

    private ClusterProvider provider() {
        return server.clusters;
    }

    @OpenApi(path = "/v1/clusters", methods = HttpMethod.GET, tags = "clusters", operationId = "listClusters",
            summary = "This host's Spark clusters: state, workers, cores, memory, running applications",
            responses = @OpenApiResponse(status = "200", description = "{items}"))
    void list(Context ctx) {
        java.time.Instant asOf = server.clock.instant();
        ctx.json(Map.of("items", call(() -> provider().list()).stream().map(s -> {
            server.clusterRecords.observed(s, asOf);
            return view(s);
        }).toList()));
    }

    @OpenApi(path = "/v1/clusters/{name}", methods = HttpMethod.GET, tags = "clusters", operationId = "getCluster", summary = "One cluster",
            pathParams = @OpenApiParam(name = "name", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the cluster"), @OpenApiResponse(status = "404", description = "no such cluster")})
    void show(Context ctx) {
        java.time.Instant asOf = server.clock.instant();
        ClusterStatus s = call(() -> provider().status(name(ctx)));
        server.clusterRecords.observed(s, asOf);
        ctx.json(view(s));
    }

    @OpenApi(path = "/v1/clusters", methods = HttpMethod.POST, tags = "clusters", operationId = "createCluster",
            summary = "Start a new cluster on this host (admin); answers once its master accepts connections",
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"name\": \"survey\", \"workers\": 2, \"worker_cores\": 1, \"worker_memory\": \"1g\"}")),
            responses = {@OpenApiResponse(status = "201", description = "the cluster"), @OpenApiResponse(status = "400", description = "bad spec"),
                    @OpenApiResponse(status = "409", description = "the name is taken")})
    void create(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("name", "workers", "worker_cores", "worker_memory"));
        String name = Bodies.text(b, "name", true);
        ClusterSpec spec = call(() -> new ClusterSpec(name, Bodies.integer(b, "workers", 2), Bodies.integer(b, "worker_cores", 1),
                java.util.Objects.requireNonNullElse(Bodies.text(b, "worker_memory", false), "1g")));
        ClusterStatus made = call(() -> provider().create(spec));
        server.clusterRecords.created(spec, made, ControlServer.caller(ctx).actor());
        ctx.status(201).json(view(made));
    }

    @OpenApi(path = "/v1/clusters/{name}/scale", methods = HttpMethod.POST, tags = "clusters", operationId = "scaleCluster",
            summary = "Change a running cluster's number of workers (admin)", pathParams = @OpenApiParam(name = "name", required = true),
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object", example = "{\"workers\": 3}")),
            responses = {@OpenApiResponse(status = "200", description = "the cluster"), @OpenApiResponse(status = "409", description = "not running")})
    void scale(Context ctx) {
        String name = name(ctx);
        JsonNode b = Bodies.object(ctx, Set.of("workers"));
        // required: a missing or null count must not fall back to 0 and stop every worker
        if (!b.hasNonNull("workers")) throw new ApiError(400, "missing_field", "field 'workers' is required (a whole number, 0-64)");
        int workers = Bodies.integer(b, "workers", -1);
        ClusterStatus s = call(() -> provider().scale(name, workers));
        server.clusterRecords.changed(s, server.clock.instant(), ControlServer.caller(ctx).actor(), "cluster.scale", Map.of("workers", workers));
        ctx.json(view(s));
    }

    @OpenApi(path = "/v1/clusters/{name}/start", methods = HttpMethod.POST, tags = "clusters", operationId = "startCluster",
            summary = "Start a stopped cluster again with its recorded spec (admin)", pathParams = @OpenApiParam(name = "name", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the cluster"), @OpenApiResponse(status = "404", description = "no such cluster")})
    void start(Context ctx) {
        String name = name(ctx);
        ClusterStatus s = call(() -> provider().start(name));
        server.clusterRecords.changed(s, server.clock.instant(), ControlServer.caller(ctx).actor(), "cluster.start", Map.of());
        ctx.json(view(s));
    }

    @OpenApi(path = "/v1/clusters/{name}/stop", methods = HttpMethod.POST, tags = "clusters", operationId = "stopCluster",
            summary = "Stop every process of a cluster (admin); its record stays, so it can start again", pathParams = @OpenApiParam(name = "name", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the cluster, stopped"), @OpenApiResponse(status = "404", description = "no such cluster")})
    void stop(Context ctx) {
        String name = name(ctx);
        call(() -> provider().status(name)); // 404 for an unknown name, before anything stops
        server.warmPools.resize(name, 0, 600); // its warm drivers go first: they would hold jobs on a cluster that is gone
        ClusterStatus s = call(() -> provider().stop(name));
        server.clusterRecords.changed(s, server.clock.instant(), ControlServer.caller(ctx).actor(), "cluster.stop", Map.of());
        ctx.json(view(s));
    }

    @OpenApi(path = "/v1/clusters/{name}", methods = HttpMethod.DELETE, tags = "clusters", operationId = "deleteCluster",
            summary = "Stop a cluster and remove it from this host (admin); the control plane keeps its record, marked deleted",
            pathParams = @OpenApiParam(name = "name", required = true),
            responses = {@OpenApiResponse(status = "204", description = "deleted"), @OpenApiResponse(status = "404", description = "no such cluster")})
    void delete(Context ctx) {
        String name = name(ctx);
        try {
            call(() -> provider().status(name)); // 404 for an unknown name, before anything stops
        } catch (ApiError e) {
            if (e.code().equals("corrupt_record")) {
                deleteBroken(ctx, name);
                return;
            }
            // gone from the host but still live in the record (a delete whose record update failed): the record catches up
            if (e.status() != 404 || !server.clusterRecords.live(name)) throw e;
            server.clusterRecords.deleted(name, ControlServer.caller(ctx).actor());
            ctx.status(204);
            return;
        }
        server.warmPools.resize(name, 0, 600);
        call(() -> {
            provider().delete(name);
            return null;
        });
        server.clusterRecords.deleted(name, ControlServer.caller(ctx).actor());
        ctx.status(204);
    }

    /** A cluster whose record cannot be read: listed as broken, and deleted without reading it. */
    private void deleteBroken(Context ctx, String name) {
        server.warmPools.resize(name, 0, 600);
        call(() -> {
            provider().delete(name);
            return null;
        });
        server.clusterRecords.deleted(name, ControlServer.caller(ctx).actor());
        ctx.status(204);
    }

    @OpenApi(path = "/v1/clusters/{name}/warm-pool", methods = HttpMethod.POST, tags = "clusters", operationId = "sizeWarmPool",
            summary = "Size the cluster's warm pool (admin): started Spark applications that take its predictions at once; 0 empties it",
            pathParams = @OpenApiParam(name = "name", required = true),
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"size\": 1, \"idle_timeout_s\": 600}")),
            responses = {@OpenApiResponse(status = "200", description = "the pool"), @OpenApiResponse(status = "409", description = "the cluster is not running")})
    void warmPool(Context ctx) {
        String name = name(ctx);
        JsonNode b = Bodies.object(ctx, Set.of("size", "idle_timeout_s"));
        if (!b.hasNonNull("size")) throw new ApiError(400, "missing_field", "field 'size' is required (0-" + WarmPools.MAX_SIZE + ")");
        int size = Bodies.integer(b, "size", -1);
        int idle = Bodies.integer(b, "idle_timeout_s", 600);
        if (size < 0 || size > WarmPools.MAX_SIZE) throw new ApiError(400, "bad_size", "size must be 0-" + WarmPools.MAX_SIZE + ", not " + size);
        if (idle < 10 || idle > 86_400) throw new ApiError(400, "bad_idle_timeout", "idle_timeout_s must be 10-86400, not " + idle);
        ClusterStatus s = call(() -> provider().status(name));
        if (size > 0 && (!s.state().equals(ClusterStatus.RUNNING) || s.workersAlive() == 0)) {
            throw new ApiError(409, "not_running", "the cluster is not running with a worker alive; start it first");
        }
        ctx.json(server.warmPools.resize(name, size, idle));
    }

    private static String name(Context ctx) {
        String n = ctx.pathParam("name");
        return call(() -> ClusterSpec.checkName(n));
    }

    /**
     * The provider's errors as problems with stable codes: unknown is 404, a state conflict 409, bad input 400 (its
     * message names only what was sent), a failed start 502 and anything else 500. The provider's own messages name
     * folders and log files of this host: they go to the server log, not to the caller.
     */
    private static <T> T call(Supplier<T> work) {
        try {
            return work.get();
        } catch (CanopyException e) {
            String code = e.code().startsWith("cluster.") ? e.code().substring("cluster.".length()) : "internal";
            ApiError a = switch (code) {
                case "unknown" -> new ApiError(404, code, "no such cluster; list them with GET /v1/clusters");
                case "exists" -> new ApiError(409, code, "a cluster of that name exists; pick another name or start it");
                case "not_running" -> new ApiError(409, code, "the cluster is not running; start it first");
                case "lock_failed" -> new ApiError(409, code, "another change to this cluster is under way; retry when it ends");
                case "corrupt_record" -> new ApiError(409, code, "the cluster's record on the server's host cannot be read; it can only be deleted");
                case "start_failed", "scale_failed", "stop_failed" -> new ApiError(502, code, "the cluster's processes did not do as asked; "
                        + "'canopy cluster status NAME' on the server's host shows its logs");
                case "bad_name", "bad_workers", "bad_cores", "bad_memory", "small_workers" -> new ApiError(400, code, e.oneLine());
                default -> new ApiError(500, "internal", "the cluster's record could not be read; the server log has the details");
            };
            if (a.status() >= 500) org.slf4j.LoggerFactory.getLogger(ClusterRoutes.class).warn("cluster request failed", e);
            throw a;
        } catch (java.io.UncheckedIOException e) { // the host's files (a record, a folder being removed) could not be read or written
            org.slf4j.LoggerFactory.getLogger(ClusterRoutes.class).warn("cluster request failed", e);
            throw new ApiError(500, "internal", "the cluster's files on the server's host could not be used; the server log has the details");
        }
    }

    Map<String, Object> view(ClusterStatus s) {
        Map<String, Object> m = describe(s);
        server.clusterRecords.origin(s.name()).ifPresent(m::putAll);
        m.put("warm_pool", WarmQueue.poolOf(server.db, server.clock, s.name()));
        return m;
    }

    static Map<String, Object> describe(ClusterStatus s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("state", s.state().toLowerCase(Locale.ROOT));
        m.put("master", s.masterUrl());
        m.put("workers_alive", s.workersAlive());
        m.put("workers_wanted", s.workersWanted());
        m.put("cores", s.cores());
        m.put("cores_used", s.coresUsed());
        m.put("memory_mb", s.memoryMb());
        m.put("memory_used_mb", s.memoryUsedMb());
        m.put("running_applications", s.runningApplications());
        m.put("uptime_seconds", s.uptime() == null ? null : s.uptime().toSeconds());
        m.put("bundle", s.bundle());
        return m;
    }
}
