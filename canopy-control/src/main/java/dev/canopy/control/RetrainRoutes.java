package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.imagery.Area;
import dev.canopy.model.ModelRegistry;
import dev.canopy.serve.ApiError;
import dev.canopy.train.TrainConfig;
import dev.canopy.tune.SearchSpace;
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
 * {@code POST /v1/retrain}: a job with recorded stages — export the labels to a snapshot, features (classes and
 * their balance, a spatial split in blocks), model selection with Canopy's tuner, validation of the candidate
 * and of production on the same held-out tiles, registration (approval pending), then the gate: promote when
 * the candidate beats production by {@code margin} (macro F1), reject otherwise; with no production model the
 * candidate waits for an explicit approve.
 */
final class RetrainRoutes {
    static final String DEFAULT_SPACE = "learning_rate: {loguniform: [0.0005, 0.02]}\nbatch_size: {choice: [16, 32]}\n";

    private final ControlServer server;

    RetrainRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.post("/v1/retrain", this::create, Principals.Needs.TRAIN);
    }

    @OpenApi(path = "/v1/retrain", methods = HttpMethod.POST, tags = "retrain", operationId = "retrain",
            summary = "Retrain a model on the labels a query selects; the gate promotes the candidate only if it beats production",
            headers = @OpenApiParam(name = "Idempotency-Key"),
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"model\": \"weeds\", \"survey\": \"demo\", \"labels\": {\"from\": \"2026-01-01T00:00:00Z\", \"annotator\": \"ana\"}, "
                            + "\"search_space\": \"learning_rate: {loguniform: [0.001, 0.01]}\", \"budget\": {\"trials\": 4, \"epochs\": 3}, \"margin\": 0.01, \"workers\": 1}")),
            responses = {@OpenApiResponse(status = "202", description = "the retrain job"), @OpenApiResponse(status = "400", description = "bad request, named")})
    void create(Context ctx) {
        String key = Bodies.idempotencyKey(ctx);
        JsonNode b = Bodies.object(ctx, Set.of("model", "survey", "labels", "search_space", "budget", "margin", "block_size", "seed", "architecture", "workers"));
        Principals.Caller caller = ControlServer.caller(ctx);
        String model = Bodies.text(b, "model", true);
        ModelRegistry.checkName(model);
        Surveys.Survey survey = server.surveys.visible(Bodies.text(b, "survey", true), caller);

        Map<String, Object> labels = new LinkedHashMap<>();
        JsonNode q = b.get("labels");
        if (q != null && !q.isNull()) {
            if (!q.isObject()) throw new ApiError(400, "bad_field", "labels must be an object: {from, to, annotator, classes, area}");
            for (var it = q.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!List.of("from", "to", "annotator", "classes", "area").contains(f)) {
                    throw new ApiError(400, "unknown_field", "unknown field labels." + Page.abbreviate(f) + "; the query takes from, to, annotator, classes, area");
                }
            }
            labels.put("from", str(Labels.time(Bodies.text(q, "from", false), "labels.from")));
            labels.put("to", str(Labels.time(Bodies.text(q, "to", false), "labels.to")));
            labels.put("annotator", Bodies.text(q, "annotator", false));
            List<String> classes = Bodies.texts(q, "classes");
            if (classes != null && classes.stream().anyMatch(c -> !Labels.CLASS.matcher(c).matches())) throw new ApiError(400, "bad_field", "labels.classes must be class names");
            labels.put("classes", classes);
            if (q.hasNonNull("area")) {
                Area.parse(Json.writeString(q.get("area")));
                labels.put("area", Json.MAPPER.convertValue(q.get("area"), Object.class));
            }
        }
        String space = Bodies.text(b, "search_space", false);
        if (space == null) space = DEFAULT_SPACE;
        if (space.length() > 10_000) throw new ApiError(400, "bad_search_space", "search_space is longer than 10,000 characters");
        String architecture = Bodies.text(b, "architecture", false);
        if (architecture == null) architecture = "small-cnn";
        SearchSpace parsed;
        try {
            parsed = SearchSpace.parse(space);
            // a parameter training does not know fails now, not after the labels were exported
            Map<String, Object> probe = new LinkedHashMap<>(parsed.sample(new java.util.Random(0)));
            probe.put("survey", "file:///probe");
            probe.put("model", architecture);
            TrainConfig.fromMap(probe);
        } catch (dev.canopy.api.CanopyException e) {
            throw new ApiError(400, "bad_search_space", e.oneLine());
        }
        JsonNode budget = b.get("budget");
        if (budget != null && !budget.isNull() && !budget.isObject()) throw new ApiError(400, "bad_field", "budget must be an object: {trials, epochs}");
        int trials = intIn(budget, "trials", 2, 1, 64);
        int epochs = intIn(budget, "epochs", 2, 1, 50);
        double margin = b.hasNonNull("margin") ? number(b, "margin", -1, 1) : 0.01;
        if (b.hasNonNull("block_size") && !b.get("block_size").isIntegralNumber()) throw new ApiError(400, "bad_field", "block_size must be a whole number from 2 to 64");
        int block = b.hasNonNull("block_size") ? (int) number(b, "block_size", 2, 64) : 8;
        long seed = b.hasNonNull("seed") ? (long) number(b, "seed", 0, Integer.MAX_VALUE) : 42;
        if (b.hasNonNull("workers") && !b.get("workers").isIntegralNumber()) throw new ApiError(400, "bad_field", "workers must be a whole number from 1 to 16");
        // data-parallel ranks of every tuning trial and of the final training (Spark barrier tasks: the engine needs that many free cores)
        int workers = b.hasNonNull("workers") ? (int) number(b, "workers", 1, 16) : 1;

        // checked last: a refused request must not claim the model name for the caller's team
        server.models.checkMayRetrain(model, caller);
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("model", model);
        request.put("survey", survey.name());
        request.put("survey_uri", survey.root());
        request.put("labels", labels);
        request.put("search_space", space);
        request.put("architecture", architecture);
        request.put("budget", Map.of("trials", trials, "epochs", epochs));
        request.put("margin", margin);
        request.put("block_size", block);
        request.put("seed", seed);
        request.put("workers", workers);
        request.put("metric", "macro_f1");
        Jobs.Submitted s = server.jobs.submit("retrain", caller.team(), model, request, server.settings.home().resolve("jobs").toString(), key,
                Bodies.canonicalSha256(b), caller.actor(), null);
        if (!s.created()) ctx.header("Idempotent-Replayed", "true");
        ctx.status(202).header("Location", "/v1/jobs/" + s.job().id()).json(JobRoutes.view(s.job()));
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }

    private static int intIn(JsonNode parent, String field, int dflt, int min, int max) {
        JsonNode v = parent == null ? null : parent.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) throw new ApiError(400, "bad_field", "budget." + field + " must be a whole number from " + min + " to " + max);
        return v.asInt();
    }

    private static double number(JsonNode b, String field, double min, double max) {
        JsonNode v = b.get(field);
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max) throw new ApiError(400, "bad_field", field + " must be a number from " + min + " to " + max);
        return v.asDouble();
    }
}
