package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.model.ModelRegistry;
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
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code /v1/models}: versions with metrics, provenance and approval; approve, reject, promote and roll back (admin). */
final class ModelRoutes {
    private final ControlServer server;

    ModelRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.get("/v1/models", this::list, Principals.Needs.READ);
        app.get("/v1/models/{name}", this::show, Principals.Needs.READ);
        app.post("/v1/models/{name}/versions/{version}/approve", this::approve, Principals.Needs.ADMIN);
        app.post("/v1/models/{name}/versions/{version}/reject", this::reject, Principals.Needs.ADMIN);
        app.post("/v1/models/{name}/promote", this::promote, Principals.Needs.ADMIN);
        app.post("/v1/models/{name}/rollback", this::rollback, Principals.Needs.ADMIN);
        app.get("/v1/experiments", this::experiments, Principals.Needs.READ);
        app.get("/v1/experiments/{id}", this::experiment, Principals.Needs.READ);
    }

    @OpenApi(path = "/v1/experiments", methods = HttpMethod.GET, tags = "experiments", operationId = "listExperiments",
            summary = "Tuning experiments (the home's tune folders, and this team's retrain jobs'): best trial, stopped trials, compute saved",
            responses = @OpenApiResponse(status = "200", description = "{items}"))
    void experiments(Context ctx) {
        ctx.json(Map.of("items", server.experiments.list(ControlServer.caller(ctx))));
    }

    @OpenApi(path = "/v1/experiments/{id}", methods = HttpMethod.GET, tags = "experiments", operationId = "getExperiment",
            summary = "An experiment with every trial's curve ([iteration, metric] pairs; a stopped trial's curve ends where it stopped)",
            pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the experiment"), @OpenApiResponse(status = "404", description = "no such experiment")})
    void experiment(Context ctx) {
        ctx.json(server.experiments.show(ctx.pathParam("id"), ControlServer.caller(ctx)));
    }

    @OpenApi(path = "/v1/models", methods = HttpMethod.GET, tags = "models", operationId = "listModels", summary = "Registered models and their stages, by name",
            queryParams = {@OpenApiParam(name = "cursor"), @OpenApiParam(name = "limit", type = Integer.class)},
            responses = @OpenApiResponse(status = "200", description = "{items, next_cursor}"))
    void list(Context ctx) {
        long after = Page.after(ctx.queryParam("cursor"));
        int limit = Page.limit(ctx.queryParam("limit"));
        List<String> names = server.registry.names(); // sorted: a cursor is the position after the last name seen
        List<Long> positions = new java.util.ArrayList<>();
        for (long i = after; i < names.size() && positions.size() <= limit; i++) positions.add(i + 1);
        Page<Long> page = Page.of(positions, limit, x -> x);
        List<Map<String, Object>> items = page.items().stream().map(i -> names.get((int) (i - 1))).map(n -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", n);
            List<ModelRegistry.Version> vs = server.registry.versions(n);
            m.put("versions", vs.size());
            Map<String, Integer> stages = new LinkedHashMap<>();
            vs.stream().filter(v -> !v.stage().equals("none")).forEach(v -> stages.put(v.stage(), v.version()));
            m.put("stages", stages);
            return m;
        }).toList();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("items", items);
        out.put("next_cursor", page.nextCursor());
        ctx.json(out);
    }

    static String name(Context ctx) {
        String n = ctx.pathParam("name");
        if (!n.matches("[A-Za-z0-9._-]{1,64}")) throw new ApiError(404, "model_not_found", "no model named '" + Page.abbreviate(n) + "'");
        return n;
    }

    static int version(Context ctx) {
        String v = ctx.pathParam("version");
        if (!v.matches("[0-9]{1,9}")) throw new ApiError(404, "model_not_found", "version '" + Page.abbreviate(v) + "' is not a version number");
        return Integer.parseInt(v);
    }

    @OpenApi(path = "/v1/models/{name}", methods = HttpMethod.GET, tags = "models", operationId = "getModel",
            summary = "A model's versions (metrics, provenance, approval, stage) and its stage history", pathParams = @OpenApiParam(name = "name", required = true),
            responses = {@OpenApiResponse(status = "200", description = "versions and history"), @OpenApiResponse(status = "404", description = "no such model")})
    void show(Context ctx) {
        String n = name(ctx);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", n);
        m.put("versions", server.models.versions(n));
        m.put("history", server.models.history(n));
        ctx.json(m);
    }

    private static String reason(Context ctx) {
        JsonNode b = Bodies.optionalObject(ctx, Set.of("reason"), 64 * 1024);
        if (b == null) return null;
        String r = Bodies.text(b, "reason", false);
        if (r != null && r.length() > 1000) throw new ApiError(400, "bad_field", "reason is longer than 1000 characters");
        return r;
    }

    @OpenApi(path = "/v1/models/{name}/versions/{version}/approve", methods = HttpMethod.POST, tags = "models", operationId = "approveModel",
            summary = "Approve a version and promote it to production (admin)",
            pathParams = {@OpenApiParam(name = "name", required = true), @OpenApiParam(name = "version", required = true, type = Integer.class)},
            requestBody = @OpenApiRequestBody(content = @OpenApiContent(mimeType = "application/json", type = "object", example = "{\"reason\": \"checked on farm 7\"}")),
            responses = {@OpenApiResponse(status = "200", description = "the version, approved, in production"),
                    @OpenApiResponse(status = "404", description = "no such version"), @OpenApiResponse(status = "409", description = "already rejected")})
    void approve(Context ctx) {
        ctx.json(server.models.approve(name(ctx), version(ctx), ControlServer.caller(ctx).actor(), reason(ctx)));
    }

    @OpenApi(path = "/v1/models/{name}/versions/{version}/reject", methods = HttpMethod.POST, tags = "models", operationId = "rejectModel",
            summary = "Reject a version; production stays as it is (admin)",
            pathParams = {@OpenApiParam(name = "name", required = true), @OpenApiParam(name = "version", required = true, type = Integer.class)},
            requestBody = @OpenApiRequestBody(content = @OpenApiContent(mimeType = "application/json", type = "object", example = "{\"reason\": \"misses thistle\"}")),
            responses = {@OpenApiResponse(status = "200", description = "the version, rejected"),
                    @OpenApiResponse(status = "404", description = "no such version"), @OpenApiResponse(status = "409", description = "already approved")})
    void reject(Context ctx) {
        ctx.json(server.models.reject(name(ctx), version(ctx), ControlServer.caller(ctx).actor(), reason(ctx)));
    }

    @OpenApi(path = "/v1/models/{name}/promote", methods = HttpMethod.POST, tags = "models", operationId = "promoteModel",
            summary = "Move a stage (staging or production) to a version (admin)", pathParams = @OpenApiParam(name = "name", required = true),
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"version\": 3, \"stage\": \"production\"}")),
            responses = {@OpenApiResponse(status = "200", description = "the version in its new stage"), @OpenApiResponse(status = "404", description = "no such version")})
    void promote(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("version", "stage"));
        JsonNode v = b.get("version");
        if (v == null || !v.canConvertToInt() || v.asInt() < 1 || !v.isIntegralNumber()) throw new ApiError(400, "bad_field", "version must be a positive whole number");
        String stage = Bodies.text(b, "stage", true);
        if (!stage.equals("staging") && !stage.equals("production")) throw new ApiError(400, "bad_stage", "stage must be staging or production");
        ctx.json(server.models.promote(name(ctx), v.asInt(), stage, ControlServer.caller(ctx).actor()));
    }

    @OpenApi(path = "/v1/models/{name}/rollback", methods = HttpMethod.POST, tags = "models", operationId = "rollbackModel",
            summary = "Move a stage back to the version it held before (admin)", pathParams = @OpenApiParam(name = "name", required = true),
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object", example = "{\"stage\": \"production\"}")),
            responses = {@OpenApiResponse(status = "200", description = "the version the stage now holds"),
                    @OpenApiResponse(status = "409", description = "no earlier version recorded")})
    void rollback(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("stage"));
        String stage = Bodies.text(b, "stage", true);
        if (!stage.equals("staging") && !stage.equals("production")) throw new ApiError(400, "bad_stage", "stage must be staging or production");
        ctx.json(server.models.rollback(name(ctx), stage, ControlServer.caller(ctx).actor()));
    }
}
