package dev.canopy.control;

import dev.canopy.serve.ApiError;
import java.security.SecureRandom;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/** Webhook subscriptions and the delivery log. Threads: any; each call uses its own connection. */
final class Webhooks {
    static final String SECRET_PREFIX = "whsec_";
    static final int MAX_SUBSCRIPTIONS_PER_TEAM = 50;
    private static final SecureRandom RANDOM = new SecureRandom();

    record Subscription(String id, long seq, String team, String url, List<String> eventTypes, String secret, boolean enabled,
                        String disabledReason, Instant createdAt) {
        Map<String, Object> toJson(boolean withSecret) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("team", team);
            m.put("url", url);
            m.put("event_types", eventTypes);
            m.put("enabled", enabled);
            m.put("disabled_reason", disabledReason);
            m.put("created_at", createdAt.toString());
            if (withSecret) m.put("secret", secret);
            return m;
        }
    }

    record Delivery(String id, long seq, String eventId, String eventType, String team, String target, String subscriptionId, String url,
                    String status, int attempts, Instant nextAttemptAt, Instant firstAttemptAt, Integer lastStatus, String lastError,
                    Instant createdAt, Instant deliveredAt) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("event_id", eventId);
            m.put("event_type", eventType);
            m.put("target", target);
            m.put("url", url);
            m.put("status", status);
            m.put("attempts", attempts);
            m.put("next_attempt_at", status.equals("pending") ? String.valueOf(nextAttemptAt) : null);
            m.put("last_status", lastStatus);
            m.put("last_error", lastError);
            m.put("created_at", String.valueOf(createdAt));
            m.put("delivered_at", deliveredAt == null ? null : deliveredAt.toString());
            return m;
        }
    }

    record Attempt(Instant at, Integer statusCode, String error, int millis) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("at", at.toString());
            m.put("status_code", statusCode);
            m.put("error", error);
            m.put("millis", millis);
            return m;
        }
    }

    private final DataSource db;
    private final Clock clock;

    Webhooks(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    static String newSecret() {
        byte[] b = new byte[24];
        RANDOM.nextBytes(b);
        return SECRET_PREFIX + Base64.getEncoder().encodeToString(b);
    }

    Subscription create(String team, String url, List<String> eventTypes) {
        String id = Ids.next("whk");
        Instant now = clock.instant();
        return Sql.tx(db, "create a webhook subscription", c -> {
            long n = Sql.one(c, "SELECT count(*) FROM webhook_subscriptions WHERE team = ? AND enabled", r -> r.getLong(1), team).orElse(0L);
            if (n >= MAX_SUBSCRIPTIONS_PER_TEAM) {
                throw new ApiError(409, "too_many_webhooks", "team " + team + " has " + n + " subscriptions, the most allowed; delete one first");
            }
            Sql.update(c, "INSERT INTO webhook_subscriptions (id, team, url, event_types, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)", id, team, url,
                    eventTypes.toArray(new String[0]), newSecret(), now);
            return Sql.one(c, "SELECT * FROM webhook_subscriptions WHERE id = ?", Webhooks::subscription, id).orElseThrow();
        });
    }

    Optional<Subscription> get(String id) {
        if (!Ids.looksLike("whk", id)) return Optional.empty();
        return Sql.read(db, "read a webhook subscription", c -> Sql.one(c, "SELECT * FROM webhook_subscriptions WHERE id = ?", Webhooks::subscription, id));
    }

    Page<Subscription> list(String team, String cursor, int limit) {
        long after = Page.after(cursor);
        List<Subscription> rows = Sql.read(db, "list webhook subscriptions", c -> team == null
                ? Sql.query(c, "SELECT * FROM webhook_subscriptions WHERE seq > ? ORDER BY seq LIMIT ?", Webhooks::subscription, after, limit + 1)
                : Sql.query(c, "SELECT * FROM webhook_subscriptions WHERE seq > ? AND team = ? ORDER BY seq LIMIT ?", Webhooks::subscription, after,
                team, limit + 1));
        return Page.of(rows, limit, Subscription::seq);
    }

    /** Stops a subscription; its delivery log stays. */
    void disable(String id, String reason) {
        Sql.tx(db, "disable a webhook subscription", c -> {
            Sql.update(c, "UPDATE webhook_subscriptions SET enabled = false, disabled_reason = ? WHERE id = ?", reason, id);
            // nothing more is sent to it: pending deliveries end here
            return Sql.update(c, "UPDATE deliveries SET status = 'disabled', last_error = ? WHERE subscription_id = ? AND status = 'pending'", reason, id);
        });
    }

    Optional<Delivery> delivery(String id) {
        if (!Ids.looksLike("msg", id)) return Optional.empty();
        return Sql.read(db, "read a delivery", c -> Sql.one(c, DELIVERY_SELECT + " WHERE d.id = ?", Webhooks::delivery, id));
    }

    private static final String DELIVERY_SELECT = "SELECT d.*, o.type AS event_type FROM deliveries d JOIN outbox o ON o.event_id = d.event_id";

    /** Deliveries, newest first, of one subscription or one job's callback (or all of a team / everyone's). */
    Page<Delivery> deliveries(String team, String subscriptionId, String jobId, String cursor, int limit) {
        long after = Page.after(cursor);
        StringBuilder sql = new StringBuilder(DELIVERY_SELECT + " WHERE d.seq < ?");
        List<Object> args = new ArrayList<>(List.of(after == 0 ? Long.MAX_VALUE : after));
        if (team != null) { sql.append(" AND d.team = ?"); args.add(team); }
        if (subscriptionId != null) { sql.append(" AND d.subscription_id = ?"); args.add(subscriptionId); }
        if (jobId != null) { sql.append(" AND o.job_id = ?"); args.add(jobId); }
        sql.append(" ORDER BY d.seq DESC LIMIT ?");
        args.add(limit + 1);
        List<Delivery> rows = Sql.read(db, "list deliveries", c -> Sql.query(c, sql.toString(), Webhooks::delivery, args.toArray()));
        return Page.of(rows, limit, Delivery::seq);
    }

    List<Attempt> attempts(String deliveryId) {
        return Sql.read(db, "list delivery attempts", c -> Sql.query(c, "SELECT * FROM delivery_attempts WHERE delivery_id = ? ORDER BY id",
                r -> new Attempt(Sql.instant(r, "at"), r.getObject("status_code") == null ? null : r.getInt("status_code"), r.getString("error"),
                        r.getInt("millis")), deliveryId));
    }

    /** Sends a delivery again (the same webhook-id): pending now, whatever its state. 409 if its subscription is disabled. */
    Delivery redeliver(String id) {
        Instant now = clock.instant();
        return Sql.tx(db, "redeliver", c -> {
            Delivery d = Sql.one(c, DELIVERY_SELECT + " WHERE d.id = ? FOR UPDATE OF d", Webhooks::delivery, id).orElseThrow();
            if (d.subscriptionId() != null) {
                boolean enabled = Sql.one(c, "SELECT enabled FROM webhook_subscriptions WHERE id = ?", r -> r.getBoolean(1), d.subscriptionId()).orElse(false);
                if (!enabled) throw new ApiError(409, "webhook_disabled", "subscription " + d.subscriptionId() + " is disabled; create a new one");
            }
            Sql.update(c, "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, first_attempt_at = NULL WHERE id = ?", now, id);
            return Sql.one(c, DELIVERY_SELECT + " WHERE d.id = ?", Webhooks::delivery, id).orElseThrow();
        });
    }

    static Subscription subscription(ResultSet r) throws SQLException {
        return new Subscription(r.getString("id"), r.getLong("seq"), r.getString("team"), r.getString("url"), Sql.texts(r, "event_types"),
                r.getString("secret"), r.getBoolean("enabled"), r.getString("disabled_reason"), Sql.instant(r, "created_at"));
    }

    static Delivery delivery(ResultSet r) throws SQLException {
        return new Delivery(r.getString("id"), r.getLong("seq"), r.getString("event_id"), r.getString("event_type"), r.getString("team"),
                r.getString("target"), r.getString("subscription_id"), r.getString("url"), r.getString("status"), r.getInt("attempts"),
                Sql.instant(r, "next_attempt_at"), Sql.instant(r, "first_attempt_at"), r.getObject("last_status") == null ? null : r.getInt("last_status"),
                r.getString("last_error"), Sql.instant(r, "created_at"), Sql.instant(r, "delivered_at"));
    }
}
