package dev.canopy.control;

import dev.canopy.serve.ApiError;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.sse.SseClient;
import io.javalin.openapi.HttpMethod;
import io.javalin.openapi.OpenApi;
import io.javalin.openapi.OpenApiContent;
import io.javalin.openapi.OpenApiParam;
import io.javalin.openapi.OpenApiResponse;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code /v1/jobs}: list with filters, show, cancel, read the log, follow progress as server-sent events. */
final class JobRoutes {
    static final int MAX_LOG_CHUNK = 1024 * 1024;
    private final ControlServer server;
    private final JobEvents events;

    JobRoutes(ControlServer server, JobEvents events) {
        this.server = server;
        this.events = events;
    }

    void register(Javalin app) {
        app.get("/v1/jobs", this::list, Principals.Needs.READ);
        app.get("/v1/jobs/{id}", this::show, Principals.Needs.READ);
        app.post("/v1/jobs/{id}/cancel", this::cancel, Principals.Needs.PREDICT);
        app.get("/v1/jobs/{id}/logs", this::logs, Principals.Needs.READ);
        // Javalin's SSE handler answers an empty 200 to a request without "Accept: text/event-stream": say what is wrong instead
        io.javalin.http.sse.SseHandler sse = new io.javalin.http.sse.SseHandler(this::follow);
        app.get("/v1/jobs/{id}/events", ctx -> {
            // Javalin streams only for exactly this Accept value (as EventSource sends it)
            if (!"text/event-stream".equals(ctx.header("Accept"))) {
                throw new ApiError(406, "not_acceptable", "this is a server-sent event stream: send exactly 'Accept: text/event-stream'");
            }
            // checked before the stream starts: once it has, the status is 200 whatever follows
            Jobs.Job j = visible(ctx);
            String tokenId = ControlServer.caller(ctx).principal().tokenId();
            events.admit(tokenId);
            ctx.attribute("canopy.job", j);
            try {
                sse.handle(ctx);
            } catch (RuntimeException e) {
                if (ctx.attribute("canopy.following") == null) events.release(tokenId); // the stream never started
                throw e;
            }
        }, Principals.Needs.READ);
        app.get("/v1/jobs/{id}/features", this::features, Principals.Needs.READ);
        io.javalin.http.sse.SseHandler all = new io.javalin.http.sse.SseHandler(this::followAll);
        app.get("/v1/events/jobs", ctx -> {
            if (!"text/event-stream".equals(ctx.header("Accept"))) {
                throw new ApiError(406, "not_acceptable", "this is a server-sent event stream: send exactly 'Accept: text/event-stream'");
            }
            String tokenId = ControlServer.caller(ctx).principal().tokenId();
            events.admit(tokenId);
            try {
                all.handle(ctx);
            } catch (RuntimeException e) {
                if (ctx.attribute("canopy.following") == null) events.release(tokenId);
                throw e;
            }
        }, Principals.Needs.READ);
        app.get("/v1/jobs/{id}/timeline", this::timeline, Principals.Needs.READ);
        app.get("/v1/jobs/{id}/area", this::area, Principals.Needs.READ);
        app.get("/v1/jobs/{id}/tiles/{tile}/image", this::tileImage, Principals.Needs.READ);
    }

    /** A job as the API shows it: the request without its (possibly large) area geometry. */
    static Map<String, Object> view(Jobs.Job j) {
        Map<String, Object> m = j.toJson();
        if (j.request() != null) {
            Map<String, Object> req = new LinkedHashMap<>(j.request());
            m.put("has_area", req.remove("area") != null); // the geometry itself: GET /v1/jobs/{id}/area
            req.remove("survey_uri");
            m.put("request", req);
        }
        m.remove("folder");
        if (j.indexedFrom() != null && j.result() != null) {
            // shared with every team: no paths of the operator's home
            Map<String, Object> r = new LinkedHashMap<>(j.result());
            r.remove("geoparquet");
            r.remove("summary");
            m.put("result", r);
        }
        return m;
    }

    /** The job if the caller's team may see it; 404 otherwise, so that ids of other teams reveal nothing. */
    Jobs.Job visible(Context ctx) {
        String id = ctx.pathParam("id");
        return server.jobs.get(id).filter(j -> ControlServer.caller(ctx).sees(j.team()) || j.indexedFrom() != null)
                .orElseThrow(() -> new ApiError(404, "job_not_found", "no job '" + Page.abbreviate(id) + "'; list jobs with GET /v1/jobs"));
    }

    @OpenApi(path = "/v1/jobs", methods = HttpMethod.GET, tags = "jobs", operationId = "listJobs", summary = "Jobs, newest first",
            queryParams = {@OpenApiParam(name = "kind", description = "prediction or retrain"),
                    @OpenApiParam(name = "status", description = "queued, running, succeeded, failed or cancelled"),
                    @OpenApiParam(name = "model", description = "a model name, or NAME:VERSION"),
                    @OpenApiParam(name = "cursor"), @OpenApiParam(name = "limit", type = Integer.class)},
            responses = {@OpenApiResponse(status = "200", description = "{items, next_cursor}"), @OpenApiResponse(status = "400", description = "bad filter")})
    void list(Context ctx) {
        Principals.Caller c = ControlServer.caller(ctx);
        String kind = oneOf(ctx, "kind", Jobs.KINDS);
        String status = oneOf(ctx, "status", Jobs.STATUSES);
        String model = ctx.queryParam("model");
        if (model != null && !model.matches("[A-Za-z0-9._-]{1,64}(:[0-9]{1,9})?")) {
            throw new ApiError(400, "bad_filter", "model filter '" + Page.abbreviate(model) + "' must be NAME or NAME:VERSION");
        }
        Page<Jobs.Job> p = server.jobs.list(new Jobs.Filter(c.seesAll() ? null : c.team(), kind, status, model), ctx.queryParam("cursor"),
                Page.limit(ctx.queryParam("limit")));
        ctx.json(p.toJson(JobRoutes::view));
    }

    private static String oneOf(Context ctx, String name, java.util.List<String> allowed) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) return null;
        if (!allowed.contains(v)) throw new ApiError(400, "bad_filter", name + " '" + Page.abbreviate(v) + "' must be one of " + allowed);
        return v;
    }

    @OpenApi(path = "/v1/jobs/{id}", methods = HttpMethod.GET, tags = "jobs", operationId = "getJob",
            summary = "A job: status, progress (tiles, errors, rate, ETA, stage), result, log address", pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "the job"), @OpenApiResponse(status = "404", description = "no such job")})
    void show(Context ctx) {
        ctx.json(view(visible(ctx)));
    }

    @OpenApi(path = "/v1/jobs/{id}/cancel", methods = HttpMethod.POST, tags = "jobs", operationId = "cancelJob",
            summary = "Cancel a job: a queued one at once, a running one by stopping its driver", pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "202", description = "cancelled or being cancelled"),
                    @OpenApiResponse(status = "404", description = "no such job"), @OpenApiResponse(status = "409", description = "already finished")})
    void cancel(Context ctx) {
        Jobs.Job j = visible(ctx);
        if (j.kind().equals("retrain") && !ControlServer.caller(ctx).principal().allows(dev.canopy.api.auth.TokenVerifier.Scope.TRAIN)) {
            throw new ApiError(403, "missing_scope", "cancelling a retrain job needs the 'train' scope");
        }
        ctx.status(202).json(view(server.jobs.cancel(j.id())));
    }

    @OpenApi(path = "/v1/jobs/{id}/logs", methods = HttpMethod.GET, tags = "jobs", operationId = "getJobLogs",
            summary = "The driver's log from a byte offset (at most 1 MiB per call; X-Log-Size gives the whole size)",
            pathParams = @OpenApiParam(name = "id", required = true), queryParams = @OpenApiParam(name = "offset", type = Long.class),
            responses = {@OpenApiResponse(status = "200", description = "log text", content = @OpenApiContent(mimeType = "text/plain", type = "string")),
                    @OpenApiResponse(status = "404", description = "no such job")})
    void logs(Context ctx) throws IOException {
        Jobs.Job j = visible(ctx);
        if (j.indexedFrom() != null && !ControlServer.caller(ctx).seesAll()) {
            // an indexed job is shared, its log (paths, hosts, the operator's settings) is not
            throw new ApiError(403, "log_not_shared", "the log of a job found under the Canopy home is for admin tokens only");
        }
        long offset = 0;
        String o = ctx.queryParam("offset");
        if (o != null) {
            try {
                offset = Long.parseLong(o);
            } catch (NumberFormatException e) {
                offset = -1;
            }
            if (offset < 0) throw new ApiError(400, "bad_offset", "offset must be a whole number of bytes, 0 or more");
        }
        Path log = j.logFile();
        if (log == null || !Files.exists(log)) {
            ctx.header("X-Log-Size", "0").contentType("text/plain; charset=utf-8").result("");
            return;
        }
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long size = f.length();
            long from = Math.min(offset, size);
            byte[] b = new byte[(int) Math.min(MAX_LOG_CHUNK, size - from)];
            f.seek(from);
            f.readFully(b);
            ctx.header("X-Log-Size", Long.toString(size)).contentType("text/plain; charset=utf-8").result(new String(b, StandardCharsets.UTF_8));
        }
    }

    @OpenApi(path = "/v1/jobs/{id}/features", methods = HttpMethod.GET, tags = "jobs", operationId = "getJobFeatures",
            summary = "A succeeded prediction's tiles as a GeoJSON FeatureCollection, a page at a time (jobs up to 100,000 tiles)",
            pathParams = @OpenApiParam(name = "id", required = true),
            queryParams = {@OpenApiParam(name = "cursor"), @OpenApiParam(name = "limit", type = Integer.class),
                    @OpenApiParam(name = "status", description = "only tiles of this status: ok or error")},
            responses = {@OpenApiResponse(status = "200", description = "FeatureCollection with next_cursor", content = @OpenApiContent(mimeType = "application/geo+json", type = "object")),
                    @OpenApiResponse(status = "404", description = "no such job"), @OpenApiResponse(status = "409", description = "not a succeeded prediction"),
                    @OpenApiResponse(status = "413", description = "too many tiles to page inline: read the GeoParquet")})
    void features(Context ctx) {
        Jobs.Job j = visible(ctx);
        String status = oneOf(ctx, "status", java.util.List.of("ok", "error"));
        ctx.contentType("application/geo+json").result(dev.canopy.api.Json.writeString(
                Features.page(j, Page.after(ctx.queryParam("cursor")), Page.limit(ctx.queryParam("limit"), Features.MAX_PAGE), status)));
    }

    @OpenApi(path = "/v1/jobs/{id}/timeline", methods = HttpMethod.GET, tags = "jobs", operationId = "getJobTimeline",
            summary = "Tiles done over time (one point per committed shard) and the mean time per stage (fetch, decode, model)",
            pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "{started_at, points: [[seconds, tiles]], stages}"),
                    @OpenApiResponse(status = "404", description = "no such job")})
    void timeline(Context ctx) {
        ctx.json(Timeline.of(visible(ctx)));
    }

    @OpenApi(path = "/v1/jobs/{id}/area", methods = HttpMethod.GET, tags = "jobs", operationId = "getJobArea",
            summary = "The area a prediction was asked for, as a GeoJSON geometry",
            pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "a GeoJSON geometry", content = @OpenApiContent(mimeType = "application/geo+json", type = "object")),
                    @OpenApiResponse(status = "404", description = "no such job, or a job run without an area (the whole survey)")})
    void area(Context ctx) {
        Jobs.Job j = visible(ctx);
        Object area = j.request() == null ? null : j.request().get("area");
        if (area == null) throw new ApiError(404, "no_area", "job " + j.id() + " ran over its whole survey, without an area");
        ctx.contentType("application/geo+json").result(dev.canopy.api.Json.writeString(area));
    }

    @OpenApi(path = "/v1/jobs/{id}/tiles/{tile}/image", methods = HttpMethod.GET, tags = "jobs", operationId = "getJobTileImage",
            summary = "The image of one of a prediction's tiles, read from where the job read it (only under the server's allowed URI prefixes)",
            pathParams = {@OpenApiParam(name = "id", required = true), @OpenApiParam(name = "tile", required = true)},
            responses = {@OpenApiResponse(status = "200", description = "the image", content = @OpenApiContent(mimeType = "image/jpeg", type = "string")),
                    @OpenApiResponse(status = "403", description = "the tile lies outside the allowed prefixes (--allow-uris)"),
                    @OpenApiResponse(status = "404", description = "no such job or tile")})
    void tileImage(Context ctx) {
        Jobs.Job j = visible(ctx);
        String tile = ctx.pathParam("tile");
        if (!tile.matches("[A-Za-z0-9._:-]{1,200}")) throw new ApiError(404, "tile_not_found", "no tile '" + Page.abbreviate(tile) + "' in job " + j.id());
        String uri = Features.uriOf(j, tile).orElseThrow(() -> new ApiError(404, "tile_not_found", "no tile '" + Page.abbreviate(tile) + "' in job " + j.id()));
        TileImages.Image img = server.tileImages.read(uri, j.request() == null ? null : (String) j.request().get("survey_uri"));
        ctx.header("Cache-Control", "private, max-age=3600").header("X-Content-Type-Options", "nosniff").contentType(img.contentType()).result(img.bytes());
    }

    @OpenApi(path = "/v1/events/jobs", methods = HttpMethod.GET, tags = "jobs", operationId = "followJobs",
            summary = "Server-sent events: 'job' for each of the newest 50 jobs the token sees, then whenever one appears or changes",
            responses = {@OpenApiResponse(status = "200", description = "an event stream", content = @OpenApiContent(mimeType = "text/event-stream", type = "string")),
                    @OpenApiResponse(status = "406", description = "no 'Accept: text/event-stream'")})
    void followAll(SseClient client) {
        client.ctx().attribute("canopy.following", true);
        Principals.Caller c = ControlServer.caller(client.ctx());
        events.followAll(client, c.seesAll() ? null : c.team(), c.principal().tokenId(), credential(client.ctx()));
    }

    private static String credential(Context ctx) {
        String h = ctx.header("Authorization");
        return h != null ? "bearer:" + h.substring(Math.min(7, h.length())).trim() : "session:" + ctx.cookie(Sessions.COOKIE);
    }

    @OpenApi(path = "/v1/jobs/{id}/events", methods = HttpMethod.GET, tags = "jobs", operationId = "followJob",
            summary = "Server-sent events: 'job' with the job whenever its status or progress changes, until it ends",
            pathParams = @OpenApiParam(name = "id", required = true),
            responses = {@OpenApiResponse(status = "200", description = "an event stream", content = @OpenApiContent(mimeType = "text/event-stream", type = "string")),
                    @OpenApiResponse(status = "404", description = "no such job"),
                    @OpenApiResponse(status = "406", description = "no 'Accept: text/event-stream'")})
    void follow(SseClient client) {
        Jobs.Job j = client.ctx().attribute("canopy.job");
        client.ctx().attribute("canopy.following", true);
        events.follow(client, j, ControlServer.caller(client.ctx()).principal().tokenId(), credential(client.ctx()));
    }
}
