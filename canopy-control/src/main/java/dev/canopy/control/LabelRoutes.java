package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.serve.ApiError;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.openapi.HttpMethod;
import io.javalin.openapi.OpenApi;
import io.javalin.openapi.OpenApiContent;
import io.javalin.openapi.OpenApiParam;
import io.javalin.openapi.OpenApiRequestBody;
import io.javalin.openapi.OpenApiResponse;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code /v1/labels}: ingest labelled tiles or areas from annotation tools; query them. */
final class LabelRoutes {
    private final ControlServer server;

    LabelRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.post("/v1/labels", this::ingest, Principals.Needs.TRAIN);
        app.get("/v1/labels", this::query, Principals.Needs.READ);
    }

    @OpenApi(path = "/v1/labels", methods = HttpMethod.POST, tags = "labels", operationId = "ingestLabels",
            summary = "Store labels for a survey: each a tile_id or a GeoJSON geometry, a class, the annotator and the time (all or none)",
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"survey\": \"demo\", \"labels\": [{\"tile_id\": \"r000001-c000002\", \"class\": \"invasive_weed\", "
                            + "\"annotator\": \"ana\", \"time\": \"2026-03-02T10:15:00Z\"}]}")),
            responses = {@OpenApiResponse(status = "201", description = "{stored}"), @OpenApiResponse(status = "400", description = "a bad label, named")})
    void ingest(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("survey", "labels"));
        Principals.Caller c = ControlServer.caller(ctx);
        Surveys.Survey s = server.surveys.visible(Bodies.text(b, "survey", true), c);
        ctx.status(201).json(Map.of("stored", server.labels.ingest(c.team(), s, b.get("labels"))));
    }

    @OpenApi(path = "/v1/labels", methods = HttpMethod.GET, tags = "labels", operationId = "queryLabels",
            summary = "Labels by survey, time range, annotator and class, oldest first",
            queryParams = {@OpenApiParam(name = "survey"), @OpenApiParam(name = "from", description = "ISO-8601, inclusive"),
                    @OpenApiParam(name = "to", description = "ISO-8601, exclusive"), @OpenApiParam(name = "annotator"),
                    @OpenApiParam(name = "class", description = "comma-separated"), @OpenApiParam(name = "cursor"),
                    @OpenApiParam(name = "limit", type = Integer.class)},
            responses = @OpenApiResponse(status = "200", description = "{items, next_cursor}"))
    void query(Context ctx) {
        Principals.Caller c = ControlServer.caller(ctx);
        String cls = ctx.queryParam("class");
        List<String> classes = cls == null || cls.isEmpty() ? null : Arrays.asList(cls.split(","));
        if (classes != null && classes.stream().anyMatch(x -> !Labels.CLASS.matcher(x).matches())) {
            throw new ApiError(400, "bad_filter", "class must be comma-separated class names");
        }
        String survey = ctx.queryParam("survey");
        if (survey != null) server.surveys.visible(survey, c);
        int limit = Page.limit(ctx.queryParam("limit"));
        Labels.Query q = new Labels.Query(survey, Labels.time(ctx.queryParam("from"), "from"), Labels.time(ctx.queryParam("to"), "to"),
                ctx.queryParam("annotator"), classes);
        List<Labels.Label> rows = server.labels.query(c.seesAll() ? null : c.team(), q, Page.after(ctx.queryParam("cursor")), limit + 1);
        ctx.json(Page.of(rows, limit, Labels.Label::id).toJson(Labels.Label::toJson));
    }
}
