package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.canopy.api.Json;
import dev.canopy.api.auth.Tokens;
import dev.canopy.serve.ApiError;
import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/** Request bodies read at the edge: JSON objects with known fields only, each error naming the field and the fix. */
final class Bodies {
    private static final com.fasterxml.jackson.databind.ObjectMapper CANONICAL = Json.MAPPER.copy()
            .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    private Bodies() { }

    /**
     * The body's bytes, at most {@code max}: Jetty's limit only checks a declared Content-Length, so a chunked
     * body is read here with a bound instead of whole.
     */
    static byte[] bytes(Context ctx, long max) {
        try (java.io.InputStream in = ctx.req().getInputStream()) {
            byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
            if (b.length > max) throw new ApiError(413, "body_too_large", "the body is larger than " + max + " bytes");
            return b;
        } catch (java.io.IOException e) {
            throw new ApiError(400, "bad_body", "the body could not be read: " + Page.abbreviate(String.valueOf(e.getMessage())));
        }
    }

    static long maxBody = dev.canopy.control.ControlSettings.DEFAULT_MAX_BODY;

    /** The body as a JSON object whose fields are all in {@code allowed}. */
    static JsonNode object(Context ctx, Set<String> allowed) {
        JsonNode n = optionalObject(ctx, allowed, maxBody);
        if (n == null) throw new ApiError(400, "bad_json", "the body must be a JSON object");
        return n;
    }

    /** As {@link #object}, at most {@code max} bytes, and null when the body is empty (a request whose fields are all optional). */
    static JsonNode optionalObject(Context ctx, Set<String> allowed, long max) {
        String ct = ctx.contentType();
        if (ct != null && !ct.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
            throw new ApiError(415, "unsupported_media_type", "send the body as application/json, not " + Page.abbreviate(ct));
        }
        byte[] raw = bytes(ctx, max);
        if (new String(raw, java.nio.charset.StandardCharsets.UTF_8).isBlank()) return null;
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(raw);
        } catch (java.io.IOException e) {
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new ApiError(400, "bad_json", "the body is not valid JSON: " + Page.abbreviate(String.valueOf(why)));
        }
        if (n == null || !n.isObject()) throw new ApiError(400, "bad_json", "the body must be a JSON object");
        // PostgreSQL text cannot hold NUL: refuse it here, naming it, rather than fail in the database
        if (Json.writeString(n).contains("\\u0000")) throw new ApiError(400, "bad_json", "the body contains a NUL character (\\u0000); remove it");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new ApiError(400, "unknown_field", "unknown field '" + Page.abbreviate(f) + "'; this request takes " + String.join(", ", allowed.stream().sorted().toList()));
            }
        }
        return n;
    }

    static String text(JsonNode body, String field, boolean required) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            if (required) throw new ApiError(400, "missing_field", "field '" + field + "' is required");
            return null;
        }
        if (!v.isTextual()) throw new ApiError(400, "bad_field", "field '" + field + "' must be a string");
        return v.asText();
    }

    /** A whole number field, {@code fallback} when absent. */
    static int integer(JsonNode body, String field, int fallback) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new ApiError(400, "bad_field", "field '" + field + "' must be a whole number");
        return v.asInt();
    }

    static List<String> texts(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isArray()) throw new ApiError(400, "bad_field", "field '" + field + "' must be an array of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) throw new ApiError(400, "bad_field", "field '" + field + "' must be an array of strings");
            out.add(e.asText());
        }
        return out;
    }

    /** A digest of the body that does not depend on field order or whitespace: "the same request" for idempotency. */
    static String canonicalSha256(JsonNode body) {
        try {
            return Tokens.sha256(CANONICAL.writeValueAsString(Json.MAPPER.convertValue(body, Object.class)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The {@code Idempotency-Key} header, if given: 1 to 200 visible ASCII characters. */
    static String idempotencyKey(Context ctx) {
        String k = ctx.header("Idempotency-Key");
        if (k == null) return null;
        if (k.isEmpty() || k.length() > 200 || !k.chars().allMatch(ch -> ch > 32 && ch < 127)) {
            throw new ApiError(400, "bad_idempotency_key", "Idempotency-Key must be 1 to 200 visible ASCII characters (a UUID is a good key)");
        }
        return k;
    }
}
