package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.BoundingBox;
import dev.canopy.api.Json;
import dev.canopy.imagery.Area;
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

/**
 * {@code POST /v1/predictions}: batch inference over the tiles of an area, as a job. The request is checked
 * whole before anything is queued (survey visible to the team, area valid and over the survey, model
 * resolvable, callback allowed); the job records the exact model version the reference resolved to.
 */
final class PredictionRoutes {
    /** Vertices a request's area may have (the CLI allows more: a file is not a request body). */
    static final int MAX_VERTICES = 10_000;
    /** The largest area one request may cover: 100,000 km². */
    static final double MAX_HECTARES = 10_000_000;

    private final ControlServer server;

    PredictionRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.post("/v1/predictions", this::create, Principals.Needs.PREDICT);
    }

    @OpenApi(path = "/v1/predictions", methods = HttpMethod.POST, tags = "predictions", operationId = "createPrediction",
            summary = "Predict over an area with a model: a job that runs batch inference on the tiles the area covers",
            headers = @OpenApiParam(name = "Idempotency-Key", description = "the same key with the same body answers the same job; with another body, 409"),
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"survey\": \"demo\", \"model\": \"land-cover@production\", \"area\": {\"type\": \"Polygon\", \"coordinates\": "
                            + "[[[146.0, -35.0], [146.01, -35.0], [146.01, -34.99], [146.0, -35.0]]]}, \"callback\": {\"url\": \"https://example.org/hook\"}}")),
            responses = {@OpenApiResponse(status = "202", description = "the job (queued); callback.secret signs its webhooks"),
                    @OpenApiResponse(status = "400", description = "bad area, model reference or callback"),
                    @OpenApiResponse(status = "404", description = "no such survey or model"),
                    @OpenApiResponse(status = "409", description = "Idempotency-Key reused with another body"),
                    @OpenApiResponse(status = "422", description = "the area does not overlap the survey")})
    void create(Context ctx) {
        String key = Bodies.idempotencyKey(ctx);
        JsonNode b = Bodies.object(ctx, Set.of("survey", "area", "model", "callback", "cluster"));
        Principals.Caller caller = ControlServer.caller(ctx);
        Surveys.Survey survey = server.surveys.visible(Bodies.text(b, "survey", true), caller);
        JsonNode areaJson = b.get("area");
        if (areaJson == null || !areaJson.isObject()) throw new ApiError(400, "missing_field", "field 'area' is required: a GeoJSON Polygon, "
                + "MultiPolygon, Feature or FeatureCollection in lon/lat degrees");
        Area area = Area.parse(Json.writeString(areaJson));
        int vertices = area.geometry().getNumPoints();
        if (vertices > MAX_VERTICES) {
            throw new ApiError(400, "bad_area", "the area has " + vertices + " vertices, more than the " + MAX_VERTICES + " a request may have; simplify it");
        }
        double hectares = Results.hectares(area.geometry());
        if (hectares > MAX_HECTARES) {
            throw new ApiError(400, "bad_area", String.format("the area covers %.0f ha, more than the %.0f ha one request may cover; split it",
                    hectares, MAX_HECTARES));
        }
        BoundingBox box = area.bbox();
        if (!box.intersects(survey.extent())) {
            throw new ApiError(422, "area_outside_survey", "the area " + bbox(box) + " does not overlap survey '" + survey.name() + "' "
                    + bbox(survey.extent()) + "; check the survey, and that coordinates are lon, lat");
        }
        String modelRef = Bodies.text(b, "model", true);
        ModelRegistry.Version v = server.registry.resolve(modelRef);
        Jobs.Callback callback = callback(b.get("callback"));
        String cluster = cluster(Bodies.text(b, "cluster", false));

        Map<String, Object> request = new LinkedHashMap<>();
        request.put("survey", survey.name());
        request.put("survey_uri", survey.root());
        request.put("model", modelRef);
        request.put("area", Json.MAPPER.convertValue(areaJson, Object.class));
        request.put("area_hectares", hectares);
        request.put("area_bbox", List.of(box.minX(), box.minY(), box.maxX(), box.maxY()));
        request.put("callback_url", callback == null ? null : callback.url());
        if (cluster != null) request.put("cluster", cluster);
        Jobs.Submitted s = server.jobs.submit("prediction", caller.team(), v.ref(), request, server.settings.home().resolve("jobs").toString(), key,
                Bodies.canonicalSha256(b), caller.actor(), callback);
        Map<String, Object> out = new LinkedHashMap<>(JobRoutes.view(s.job()));
        // a replay (the first answer was lost) gets the secret the job was made with, not the one drawn for this call
        server.jobs.callbackOf(s.job().id()).ifPresent(cb -> out.put("callback", Map.of("url", cb.url(), "secret", cb.secret())));
        if (!s.created()) ctx.header("Idempotent-Replayed", "true");
        ctx.status(202).header("Location", "/v1/jobs/" + s.job().id()).json(out);
    }

    /**
     * The cluster a prediction runs on (null: the server's own engine). It must be running with a worker: a job queued
     * for a stopped cluster would wait for ever.
     */
    private String cluster(String name) {
        if (name == null) return null;
        dev.canopy.cluster.ClusterStatus s;
        try {
            s = server.clusters.status(dev.canopy.cluster.ClusterSpec.checkName(name));
        } catch (dev.canopy.api.CanopyException e) {
            throw e.code().equals("cluster.bad_name") ? new ApiError(400, "bad_cluster", "cluster name '" + Page.abbreviate(name) + "' is not a cluster name")
                    : new ApiError(404, "cluster_not_found", "no cluster '" + name + "'; list them with GET /v1/clusters");
        }
        if (!s.state().equals(dev.canopy.cluster.ClusterStatus.RUNNING) || s.workersAlive() == 0) {
            throw new ApiError(409, "cluster_not_running", "cluster '" + name + "' is " + s.state().toLowerCase(java.util.Locale.ROOT)
                    + " with " + s.workersAlive() + " worker(s) alive; start or scale it first");
        }
        return name;
    }

    private Jobs.Callback callback(JsonNode c) {
        if (c == null || c.isNull()) return null;
        if (!c.isObject()) throw new ApiError(400, "bad_field", "field 'callback' must be an object: {\"url\": \"https://...\", \"secret\": optional}");
        for (var it = c.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("url") && !f.equals("secret")) throw new ApiError(400, "unknown_field", "unknown field 'callback." + Page.abbreviate(f) + "'; callback takes url, secret");
        }
        String url = Bodies.text(c, "url", true);
        server.callbacks.check(url);
        String secret = Bodies.text(c, "secret", false);
        if (secret != null) {
            byte[] raw = null;
            if (secret.startsWith(Webhooks.SECRET_PREFIX)) {
                try {
                    raw = java.util.Base64.getDecoder().decode(secret.substring(Webhooks.SECRET_PREFIX.length()));
                } catch (IllegalArgumentException bad) {
                    raw = null;
                }
            }
            if (raw == null || raw.length < 24 || raw.length > 64) {
                throw new ApiError(400, "bad_secret", "callback.secret must be 'whsec_' followed by base64 of 24 to 64 random bytes; or leave it out and use the one returned");
            }
        }
        return new Jobs.Callback(url, secret != null ? secret : Webhooks.newSecret());
    }

    private static String bbox(BoundingBox b) {
        return String.format("[%.5f, %.5f, %.5f, %.5f]", b.minX(), b.minY(), b.maxX(), b.maxY());
    }
}
