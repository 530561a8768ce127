package dev.canopy.control;

import dev.canopy.api.Json;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Events for webhooks, written in the transaction that makes the change they announce: a change and its
 * event commit together or not at all, so a crash can neither lose an event nor announce a change that
 * did not happen. {@link WebhookDispatcher} fans them out to deliveries.
 */
final class Outbox {
    static final java.util.List<String> EVENT_TYPES = java.util.List.of("job.started", "job.succeeded", "job.failed", "job.cancelled",
            "model.approved", "model.rejected", "model.promoted", "model.rolled_back");

    private Outbox() { }

    static String emit(Connection c, Instant at, String type, String team, String jobId, Map<String, Object> data) throws SQLException {
        String id = Ids.next("evt");
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("type", type);
        payload.put("timestamp", at.toString());
        payload.put("data", data);
        Sql.update(c, "INSERT INTO outbox (event_id, type, team, job_id, payload, created_at) VALUES (?, ?, ?, ?, ?::jsonb, ?)", id, type, team,
                jobId, Json.writeString(payload), at);
        return id;
    }
}
