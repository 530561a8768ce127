package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.serve.ApiError;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.openapi.HttpMethod;
import io.javalin.openapi.OpenApi;
import io.javalin.openapi.OpenApiContent;
import io.javalin.openapi.OpenApiRequestBody;
import io.javalin.openapi.OpenApiResponse;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code /ui/session}: the dashboard signs in with a pasted token (a session cookie comes back) and signs out. */
final class SessionRoutes {
    private final ControlServer server;

    SessionRoutes(ControlServer server) {
        this.server = server;
    }

    void register(Javalin app) {
        app.post("/ui/session", this::signIn);
        app.delete("/ui/session", this::signOut);
        app.get("/ui/session", this::current);
    }

    @OpenApi(path = "/ui/session", methods = HttpMethod.GET, tags = "dashboard", operationId = "currentSession",
            summary = "The session of the cookie sent: its team, scopes and CSRF token (a page reloaded keeps its session)",
            responses = @OpenApiResponse(status = "200", description = "{signed_in, csrf_token, team, scopes}; {signed_in: false} without a session"))
    void current(Context ctx) {
        // same-origin only: without CORS headers no other site's page can read this answer, so the CSRF token stays ours
        String sid = ctx.cookie(Sessions.COOKIE);
        Sessions.Session s = sid == null ? null : server.sessions.find(sid).orElse(null);
        // 200 either way: the page asks before it knows, and a 401 would be a console error in every browser
        ctx.header("Cache-Control", "no-store").json(s == null ? Map.of("signed_in", false) : describe(s.csrf(), s.principal()));
    }

    private static Map<String, Object> describe(String csrf, TokenVerifier.Principal p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("signed_in", true);
        m.put("csrf_token", csrf);
        m.put("team", p.team());
        m.put("scopes", p.scopes().stream().map(x -> x.name().toLowerCase(Locale.ROOT)).sorted().toList());
        return m;
    }

    @OpenApi(path = "/ui/session", methods = HttpMethod.POST, tags = "dashboard", operationId = "signIn",
            summary = "Exchange a bearer token for an HttpOnly, SameSite=Strict session cookie; the answer holds the CSRF token for changes",
            requestBody = @OpenApiRequestBody(required = true, content = @OpenApiContent(mimeType = "application/json", type = "object",
                    example = "{\"token\": \"cnp_...\"}")),
            responses = {@OpenApiResponse(status = "201", description = "{csrf_token, team, scopes}"), @OpenApiResponse(status = "401", description = "bad token")})
    void signIn(Context ctx) {
        JsonNode b = Bodies.object(ctx, Set.of("token"));
        String token = Bodies.text(b, "token", true);
        TokenVerifier.Principal p = server.tokens.verify(token).orElseThrow(() ->
                new ApiError(401, "invalid_token", "the token is unknown, revoked or expired; make a new one with 'canopy token create'"));
        String[] s = server.sessions.open(p);
        // HttpOnly: page scripts never read it; SameSite=Strict: other sites' pages never send it; Secure when served over https
        ctx.header("Set-Cookie", Sessions.COOKIE + "=" + s[0] + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + Sessions.TTL.toSeconds()
                + (ctx.scheme().equals("https") ? "; Secure" : ""));
        ctx.status(201).header("Cache-Control", "no-store").json(describe(s[1], p));
    }

    @OpenApi(path = "/ui/session", methods = HttpMethod.DELETE, tags = "dashboard", operationId = "signOut",
            summary = "End the session of the cookie sent (with its X-CSRF-Token)",
            responses = {@OpenApiResponse(status = "204", description = "signed out"), @OpenApiResponse(status = "403", description = "no CSRF token")})
    void signOut(Context ctx) {
        String sid = ctx.cookie(Sessions.COOKIE);
        if (sid != null) {
            Sessions.Session s = server.sessions.find(sid).orElse(null);
            if (s != null && !Sessions.sameSecret(ctx.header("X-CSRF-Token"), s.csrf())) {
                throw new ApiError(403, "csrf", "signing out needs the session's X-CSRF-Token header");
            }
            server.sessions.close(sid);
        }
        ctx.header("Set-Cookie", Sessions.COOKIE + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        ctx.status(204);
    }
}
