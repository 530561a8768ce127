package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.openapi.HttpMethod;
import io.javalin.openapi.OpenApi;
import io.javalin.openapi.OpenApiContent;
import io.javalin.openapi.OpenApiParam;
import io.javalin.openapi.OpenApiRequestBody;
import io.javalin.openapi.OpenApiResponse;
import java.util.Set;

/** {@code /v1/surveys}: register a manifest under a name; list and show them. */
final class SurveyRoutes {
    private final ControlServer server;

    SurveyRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.post("/v1/surveys", this::create, Principals.Needs.PREDICT);
        app.get("/v1/surveys", this::list, Principals.Needs.READ);
        app.get("/v1/surveys/{name}", this::show, Principals.Needs.READ);
    }

    @OpenApi(path = "/v1/surveys", methods = HttpMethod.POST, tags = "surveys", operationId = "createSurvey",
            summary = "Register a survey: a manifest root (under the allowed prefixes) under a name",
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"name\": \"farm-7\", \"manifest\": \"file:///data/canopy/surveys/farm-7/\"}")),
            responses = {@OpenApiResponse(status = "201", description = "registered: name, extent, tiles, classes"),
                    @OpenApiResponse(status = "400", description = "bad name or manifest"),
                    @OpenApiResponse(status = "403", description = "manifest outside the allowed prefixes, or missing scope"),
                    @OpenApiResponse(status = "409", description = "name taken")})
    void create(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("name", "manifest"));
        Principals.Caller c = ControlServer.caller(ctx);
        Surveys.Survey s = server.surveys.register(Bodies.text(b, "name", true), c.team(), Bodies.text(b, "manifest", true), c.actor());
        ctx.status(201).header("Location", "/v1/surveys/" + s.name()).json(s.toJson());
    }

    @OpenApi(path = "/v1/surveys", methods = HttpMethod.GET, tags = "surveys", operationId = "listSurveys", summary = "Surveys this token's team may use",
            queryParams = {@OpenApiParam(name = "cursor"), @OpenApiParam(name = "limit", type = Integer.class)},
            responses = @OpenApiResponse(status = "200", description = "{items, next_cursor}"))
    void list(Context ctx) {
        Page<Surveys.Survey> p = server.surveys.list(ControlServer.caller(ctx), ctx.queryParam("cursor"), Page.limit(ctx.queryParam("limit")));
        ctx.json(p.toJson(Surveys.Survey::toJson));
    }

    @OpenApi(path = "/v1/surveys/{name}", methods = HttpMethod.GET, tags = "surveys", operationId = "getSurvey",
            summary = "A survey: extent, tiles, classes", pathParams = @OpenApiParam(name = "name", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the survey"), @OpenApiResponse(status = "404", description = "no such survey")})
    void show(Context ctx) {
        ctx.json(server.surveys.visible(ctx.pathParam("name"), ControlServer.caller(ctx)).toJson());
    }
}
