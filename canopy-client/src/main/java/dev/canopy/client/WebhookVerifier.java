package dev.canopy.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.standardwebhooks.Webhook;
import com.standardwebhooks.exceptions.WebhookVerificationException;
import dev.canopy.api.Json;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks that a webhook came from Canopy (Standard Webhooks 1.0): the {@code webhook-signature} must be
 * the HMAC-SHA256, keyed with the subscription's {@code whsec_} secret, of {@code id.timestamp.body}, and
 * the timestamp within five minutes of now (replays of old deliveries are refused). Verification is the
 * Standard Webhooks library's; this class adds the event's parsing.
 * <pre>{@code
 * WebhookVerifier v = new WebhookVerifier(secret);
 * WebhookVerifier.Event e = v.verify(body, headers);   // throws Invalid when forged, altered or stale
 * if (seen.add(e.id())) handle(e);                      // at least once: the same id may come again
 * }</pre>
 * Threads: any.
 */
public final class WebhookVerifier {
    /** A verified event: {@code id} is the delivery's {@code webhook-id}, the same on every retry. */
    public record Event(String id, long timestamp, String type, JsonNode data, String body) { }

    /** The delivery is not from the holder of the secret, was altered, or is too old. */
    public static final class Invalid extends Exception {
        public Invalid(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Webhook webhook;

    public WebhookVerifier(String secret) {
        if (secret == null || !secret.startsWith("whsec_")) throw new IllegalArgumentException("a webhook secret starts with whsec_");
        try {
            this.webhook = new Webhook(secret);
        } catch (Exception e) {
            throw new IllegalArgumentException("not a webhook secret: " + e.getMessage(), e);
        }
    }

    /** Verifies a delivery; header names in any case. */
    public Event verify(String body, Map<String, List<String>> headers) throws Invalid {
        Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        h.putAll(headers);
        try {
            webhook.verify(body, h);
        } catch (WebhookVerificationException e) {
            throw new Invalid("webhook refused: " + e.getMessage(), e);
        }
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(body);
        } catch (java.io.IOException e) {
            throw new Invalid("webhook body is not JSON", e);
        }
        return new Event(h.get("webhook-id").get(0), Long.parseLong(h.get("webhook-timestamp").get(0)), n.path("type").asText(), n.path("data"), body);
    }
}
