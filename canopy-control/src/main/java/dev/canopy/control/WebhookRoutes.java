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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code /v1/webhooks} (subscriptions per team) and {@code /v1/deliveries} (the delivery log, redeliver). */
final class WebhookRoutes {
    private final ControlServer server;

    WebhookRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.post("/v1/webhooks", this::create, Principals.Needs.PREDICT);
        app.get("/v1/webhooks", this::list, Principals.Needs.READ);
        app.get("/v1/webhooks/{id}", this::show, Principals.Needs.READ);
        app.delete("/v1/webhooks/{id}", this::delete, Principals.Needs.PREDICT);
        app.get("/v1/deliveries", this::deliveries, Principals.Needs.READ);
        app.get("/v1/deliveries/{id}", this::delivery, Principals.Needs.READ);
        app.post("/v1/deliveries/{id}/redeliver", this::redeliver, Principals.Needs.PREDICT);
    }

    @OpenApi(path = "/v1/webhooks", methods = HttpMethod.POST, tags = "webhooks", operationId = "createWebhook",
            summary = "Subscribe a URL to event types (job.started, job.succeeded, job.failed, job.cancelled, or *); the answer holds the signing secret",
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"url\": \"https://example.org/canopy\", \"event_types\": [\"job.succeeded\", \"job.failed\"]}")),
            responses = {@OpenApiResponse(status = "201", description = "the subscription with its secret (whsec_...)"),
                    @OpenApiResponse(status = "400", description = "bad URL or event type")})
    void create(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("url", "event_types"));
        String url = Bodies.text(b, "url", true);
        server.callbacks.check(url);
        List<String> types = Bodies.texts(b, "event_types");
        if (types == null || types.isEmpty()) types = List.of("*");
        for (String t : types) {
            if (!t.equals("*") && !Outbox.EVENT_TYPES.contains(t)) {
                throw new ApiError(400, "bad_event_type", "event type '" + Page.abbreviate(t) + "' is not one of " + Outbox.EVENT_TYPES + " or *");
            }
        }
        Webhooks.Subscription s = server.webhooks.create(ControlServer.caller(ctx).team(), url, List.copyOf(new java.util.LinkedHashSet<>(types)));
        ctx.status(201).header("Location", "/v1/webhooks/" + s.id()).json(s.toJson(true));
    }

    private Webhooks.Subscription visible(Context ctx) {
        String id = ctx.pathParam("id");
        return server.webhooks.get(id).filter(s -> ControlServer.caller(ctx).sees(s.team()))
                .orElseThrow(() -> new ApiError(404, "webhook_not_found", "no webhook subscription '" + Page.abbreviate(id) + "'"));
    }

    @OpenApi(path = "/v1/webhooks", methods = HttpMethod.GET, tags = "webhooks", operationId = "listWebhooks", summary = "Subscriptions (secrets not shown)",
            queryParams = {@OpenApiParam(name = "cursor"), @OpenApiParam(name = "limit", type = Integer.class)},
            responses = @OpenApiResponse(status = "200", description = "{items, next_cursor}"))
    void list(Context ctx) {
        Principals.Caller c = ControlServer.caller(ctx);
        Page<Webhooks.Subscription> p = server.webhooks.list(c.seesAll() ? null : c.team(), ctx.queryParam("cursor"), Page.limit(ctx.queryParam("limit")));
        ctx.json(p.toJson(s -> s.toJson(false)));
    }

    @OpenApi(path = "/v1/webhooks/{id}", methods = HttpMethod.GET, tags = "webhooks", operationId = "getWebhook",
            summary = "A subscription, with its secret for its own team", pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the subscription"), @OpenApiResponse(status = "404", description = "no such subscription")})
    void show(Context ctx) {
        Webhooks.Subscription s = visible(ctx);
        // the signing secret only for its own team's tokens that may manage webhooks: a read token could forge deliveries with it
        Principals.Caller c = ControlServer.caller(ctx);
        ctx.json(s.toJson(s.team().equals(c.team()) && c.principal().allows(dev.canopy.api.auth.TokenVerifier.Scope.PREDICT)));
    }

    @OpenApi(path = "/v1/webhooks/{id}", methods = HttpMethod.DELETE, tags = "webhooks", operationId = "deleteWebhook",
            summary = "Stop a subscription (its delivery log stays)", pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "204", description = "stopped"), @OpenApiResponse(status = "404", description = "no such subscription")})
    void delete(Context ctx) {
        Webhooks.Subscription s = visible(ctx);
        server.webhooks.disable(s.id(), "deleted by " + ControlServer.caller(ctx).actor());
        ctx.status(204);
    }

    @OpenApi(path = "/v1/deliveries", methods = HttpMethod.GET, tags = "webhooks", operationId = "listDeliveries",
            summary = "Webhook deliveries, newest first, with their attempts count and last outcome",
            queryParams = {@OpenApiParam(name = "webhook", description = "a subscription id"), @OpenApiParam(name = "job", description = "a job id"),
                    @OpenApiParam(name = "cursor"), @OpenApiParam(name = "limit", type = Integer.class)},
            responses = @OpenApiResponse(status = "200", description = "{items, next_cursor}"))
    void deliveries(Context ctx) {
        Principals.Caller c = ControlServer.caller(ctx);
        String sub = ctx.queryParam("webhook");
        String job = ctx.queryParam("job");
        if (sub != null && !Ids.looksLike("whk", sub)) throw new ApiError(400, "bad_filter", "webhook must be a subscription id (whk_...)");
        if (job != null && !Ids.looksLike("job", job)) throw new ApiError(400, "bad_filter", "job must be a job id (job_...)");
        Page<Webhooks.Delivery> p = server.webhooks.deliveries(c.seesAll() ? null : c.team(), sub, job, ctx.queryParam("cursor"),
                Page.limit(ctx.queryParam("limit")));
        ctx.json(p.toJson(Webhooks.Delivery::toJson));
    }

    private Webhooks.Delivery visibleDelivery(Context ctx) {
        String id = ctx.pathParam("id");
        return server.webhooks.delivery(id).filter(d -> ControlServer.caller(ctx).sees(d.team()))
                .orElseThrow(() -> new ApiError(404, "delivery_not_found", "no delivery '" + Page.abbreviate(id) + "'"));
    }

    @OpenApi(path = "/v1/deliveries/{id}", methods = HttpMethod.GET, tags = "webhooks", operationId = "getDelivery",
            summary = "A delivery and every attempt (time, status code, error, duration)", pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the delivery"), @OpenApiResponse(status = "404", description = "no such delivery")})
    void delivery(Context ctx) {
        Webhooks.Delivery d = visibleDelivery(ctx);
        Map<String, Object> m = new LinkedHashMap<>(d.toJson());
        m.put("attempt_log", server.webhooks.attempts(d.id()).stream().map(Webhooks.Attempt::toJson).toList());
        ctx.json(m);
    }

    @OpenApi(path = "/v1/deliveries/{id}/redeliver", methods = HttpMethod.POST, tags = "webhooks", operationId = "redeliver",
            summary = "Send a delivery again now, with the same webhook-id", pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "202", description = "queued for sending"), @OpenApiResponse(status = "404", description = "no such delivery"),
                    @OpenApiResponse(status = "409", description = "the subscription is disabled")})
    void redeliver(Context ctx) {
        Webhooks.Delivery d = visibleDelivery(ctx);
        ctx.status(202).json(server.webhooks.redeliver(d.id()).toJson());
    }
}
