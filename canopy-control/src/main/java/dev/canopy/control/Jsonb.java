package dev.canopy.control;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import java.util.Map;

/** jsonb columns come back from JDBC as text: read them as trees or maps. */
final class Jsonb {
    private Jsonb() { }

    static JsonNode tree(String s) {
        if (s == null) return null;
        try {
            return Json.MAPPER.readTree(s);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("a jsonb column held invalid JSON", e);
        }
    }

    static Map<String, Object> map(String s) {
        return s == null ? null : Json.MAPPER.convertValue(tree(s), new TypeReference<Map<String, Object>>() { });
    }
}
