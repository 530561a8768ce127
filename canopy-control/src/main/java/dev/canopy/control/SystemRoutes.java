package dev.canopy.control;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.openapi.HttpMethod;
import io.javalin.openapi.OpenApi;
import io.javalin.openapi.OpenApiResponse;
import java.util.Map;

/** Public routes: liveness and readiness (the OpenAPI document is served by its plugin). */
final class SystemRoutes {
    private final ControlServer server;

    SystemRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.get("/healthz", this::health);
        app.get("/readyz", this::ready);
        app.get("/metrics", this::metrics);
    }

    @OpenApi(path = "/metrics", methods = HttpMethod.GET, tags = "system", summary = "Prometheus metrics (public on a loopback bind, else a read token)",
            operationId = "metrics", responses = @OpenApiResponse(status = "200", description = "Prometheus text format"))
    void metrics(Context ctx) {
        // beyond loopback the numbers say who uses the service how much: a token is needed there
        if (!server.settings.loopback()) server.authorizeManually(ctx, Principals.Needs.READ);
        ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(server.meters.scrape());
    }

    @OpenApi(path = "/healthz", methods = HttpMethod.GET, tags = "system", summary = "The process answers", operationId = "health",
            responses = @OpenApiResponse(status = "200", description = "alive"))
    void health(Context ctx) {
        ctx.json(Map.of("status", "ok"));
    }

    @OpenApi(path = "/readyz", methods = HttpMethod.GET, tags = "system", summary = "The database answers", operationId = "ready",
            responses = {@OpenApiResponse(status = "200", description = "ready"), @OpenApiResponse(status = "503", description = "database unavailable")})
    void ready(Context ctx) {
        server.jobs.list(new Jobs.Filter(null, null, "running", null), null, 1); // one query: the database is reachable
        ctx.json(Map.of("status", "ready", "running_jobs", server.supervisor.runningCount()));
    }
}
