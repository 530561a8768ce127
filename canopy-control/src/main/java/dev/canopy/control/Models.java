package dev.canopy.control;

import dev.canopy.api.Json;
import dev.canopy.model.ModelRegistry;
import dev.canopy.serve.ApiError;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Model versions as the control plane sees them: the registry (the truth for artifacts and stage pointers)
 * plus the approval status and stage history kept in the database. A stage move is written to the database
 * first (history, audit log, outbox event in one transaction), then made in the registry; repeating a move
 * that the registry already shows is harmless, so a crash between the two is repaired by doing it again.
 */
final class Models {
    private final DataSource db;
    private final Clock clock;
    private final ModelRegistry registry;

    Models(DataSource db, Clock clock, ModelRegistry registry) {
        this.db = db;
        this.clock = clock;
        this.registry = registry;
    }

    DataSource db() {
        return db;
    }

    record Approval(String status, Map<String, Object> metrics, String jobId, String reason, String decidedBy, Instant decidedAt) { }

    Optional<Approval> approval(String name, int version) {
        return Sql.read(db, "read an approval", c -> approval(c, name, version));
    }

    private static Optional<Approval> approval(Connection c, String name, int version) throws SQLException {
        return Sql.one(c, "SELECT * FROM model_approvals WHERE name = ? AND version = ?", r -> new Approval(r.getString("status"),
                Jsonb.map(r.getString("metrics")), r.getString("job_id"), r.getString("reason"), r.getString("decided_by"),
                Sql.instant(r, "decided_at")), name, version);
    }

    Map<String, Object> view(ModelRegistry.Version v, Approval a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ref", v.ref());
        m.put("version", v.version());
        m.put("stage", v.stage());
        m.put("registered_at", String.valueOf(v.registeredAt()));
        m.put("architecture", v.card().architecture());
        m.put("classes", v.card().classes());
        m.put("metrics", v.card().metrics());
        m.put("provenance", v.card().provenance());
        m.put("confusion", v.card().confusion()); // on validation, when training recorded it
        m.put("approval", a == null ? "none" : a.status());
        if (a != null) {
            m.put("gate", a.metrics());
            m.put("approval_reason", a.reason());
            m.put("decided_by", a.decidedBy());
            m.put("retrain_job", a.jobId());
        }
        return m;
    }

    List<Map<String, Object>> versions(String name) {
        List<ModelRegistry.Version> vs = registry.versions(name);
        if (vs.isEmpty()) throw new ApiError(404, "model_not_found", "no model named '" + Page.abbreviate(name) + "'");
        return vs.stream().map(v -> view(v, approval(name, v.version()).orElse(null))).toList();
    }

    /** Records a new candidate from a retrain job: pending until a gate or a person decides. */
    void recordCandidate(Connection c, String name, int version, Map<String, Object> gate, String jobId) throws SQLException {
        Sql.update(c, "INSERT INTO model_approvals (name, version, status, metrics, job_id, created_at) VALUES (?, ?, 'pending', ?::jsonb, ?, ?) "
                + "ON CONFLICT (name, version) DO NOTHING", name, version, Json.writeString(gate), jobId, clock.instant());
    }

    /** Approves a version and promotes it to production. */
    Map<String, Object> approve(String name, int version, String actor, String reason) {
        return decide(name, version, "approved", actor, reason == null ? "approved by " + actor : reason, true);
    }

    /** Rejects a version; production stays as it is. */
    Map<String, Object> reject(String name, int version, String actor, String reason) {
        return decide(name, version, "rejected", actor, reason == null ? "rejected by " + actor : reason, false);
    }

    /** A decision (by a person, or by a retrain gate in the same way), in the database first, then the registry. */
    Map<String, Object> decide(String name, int version, String status, String actor, String reason, boolean promote) {
        ModelRegistry.Version v = registry.version(name, version); // 404 through the registry's exception when it does not exist
        Instant now = clock.instant();
        Sql.tx(db, "record a model decision", c -> {
            lockName(c, name);
            // one decision at a time per version: the row is made if missing, then locked
            Sql.update(c, "INSERT INTO model_approvals (name, version, status, created_at) VALUES (?, ?, 'pending', ?) ON CONFLICT (name, version) DO NOTHING",
                    name, version, now);
            Optional<Approval> a = Sql.one(c, "SELECT * FROM model_approvals WHERE name = ? AND version = ? FOR UPDATE", r -> new Approval(r.getString("status"),
                    Jsonb.map(r.getString("metrics")), r.getString("job_id"), r.getString("reason"), r.getString("decided_by"),
                    Sql.instant(r, "decided_at")), name, version);
            if (a.isPresent() && !a.get().status().equals("pending") && !a.get().status().equals(status)) {
                throw new ApiError(409, "already_decided", v.ref() + " was already " + a.get().status() + "; register a new version to change course");
            }
            Sql.update(c, "INSERT INTO model_approvals (name, version, status, reason, decided_by, decided_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    + "ON CONFLICT (name, version) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason, decided_by = EXCLUDED.decided_by, "
                    + "decided_at = EXCLUDED.decided_at", name, version, status, reason, actor, now, now);
            audit(c, now, actor, "model." + (status.equals("approved") ? "approve" : "reject"), v.ref(), Map.of("reason", reason));
            announce(c, now, "model." + status, name, actor, Map.of("model", v.ref(), "reason", reason, "by", actor));
            if (promote) {
                moveStage(c, name, "production", version, "promote", actor, now);
                announce(c, now, "model.promoted", name, actor, Map.of("model", v.ref(), "stage", "production", "by", actor));
                registry.promote(name, version, "production"); // under the name's lock: stage moves of one model happen in order
            }
            return null;
        });
        return view(registry.version(name, version), approval(name, version).orElse(null));
    }

    /** Moves {@code stage} to {@code version}. */
    Map<String, Object> promote(String name, int version, String stage, String actor) {
        registry.version(name, version);
        if (stage.equals("none")) throw new ApiError(400, "bad_stage", "promote to staging or production");
        Instant now = clock.instant();
        Sql.tx(db, "promote a model", c -> {
            lockName(c, name);
            moveStage(c, name, stage, version, "promote", actor, now);
            audit(c, now, actor, "model.promote", name + ":" + version, Map.of("stage", stage));
            announce(c, now, "model.promoted", name, actor, Map.of("model", name + ":" + version, "stage", stage, "by", actor));
            registry.promote(name, version, stage);
            return null;
        });
        return view(registry.version(name, version), approval(name, version).orElse(null));
    }

    /** Moves {@code stage} back to the version it held before its last move. */
    Map<String, Object> rollback(String name, String stage, String actor) {
        Instant now = clock.instant();
        int[] target = new int[1];
        Sql.tx(db, "roll back a stage", c -> {
            lockName(c, name);
            Optional<Integer> previous = Sql.one(c, "SELECT previous FROM stage_history WHERE name = ? AND stage = ? ORDER BY id DESC LIMIT 1 FOR UPDATE",
                    r -> (Integer) r.getObject("previous"), name, stage);
            if (previous.isEmpty() || previous.get() == null) {
                throw new ApiError(409, "nothing_to_roll_back", "stage " + stage + " of " + name + " has no earlier version recorded to go back to");
            }
            target[0] = previous.get();
            Integer current = Sql.one(c, "SELECT version FROM stage_history WHERE name = ? AND stage = ? ORDER BY id DESC LIMIT 1",
                    r -> r.getInt(1), name, stage).orElse(null);
            // the history row of a roll back names as previous what the stage held before the rolled-back move
            Integer before = Sql.one(c, "SELECT previous FROM stage_history WHERE name = ? AND stage = ? AND version = ? AND id < "
                    + "(SELECT max(id) FROM stage_history WHERE name = ? AND stage = ?) ORDER BY id DESC LIMIT 1", r -> (Integer) r.getObject(1),
                    name, stage, target[0], name, stage).orElse(null);
            Sql.update(c, "INSERT INTO stage_history (name, stage, version, previous, action, actor, at) VALUES (?, ?, ?, ?, 'rollback', ?, ?)",
                    name, stage, target[0], before, actor, now);
            audit(c, now, actor, "model.rollback", name, Map.of("stage", stage, "from", current == null ? -1 : current, "to", target[0]));
            announce(c, now, "model.rolled_back", name, actor, Map.of("model", name + ":" + target[0], "stage", stage, "by", actor));
            registry.promote(name, target[0], stage);
            return null;
        });
        return view(registry.version(name, target[0]), approval(name, target[0]).orElse(null));
    }

    /**
     * A model event for webhooks, in the transaction of the change: to the model's owning team, else to the team of
     * whoever made the change (the token's team, or the retrain job's).
     */
    private static void announce(Connection c, Instant now, String type, String name, String actor, Map<String, Object> data) throws SQLException {
        String team = Sql.one(c, "SELECT team FROM model_owners WHERE name = ?", r -> r.getString(1), name).orElse(null);
        if (team == null && actor.startsWith("token:")) {
            team = Sql.one(c, "SELECT team FROM tokens WHERE id = ?", r -> r.getString(1), actor.substring(6)).orElse(null);
        }
        if (team == null && actor.startsWith("retrain:")) {
            team = Sql.one(c, "SELECT team FROM jobs WHERE id = ?", r -> r.getString(1), actor.substring(8)).orElse(null);
        }
        Outbox.emit(c, now, type, team == null ? "admin" : team, null, data);
    }

    /** Serialises stage moves of one model across servers (a transaction-scoped advisory lock). */
    private static void lockName(Connection c, String name) throws SQLException {
        Sql.query(c, "SELECT pg_advisory_xact_lock(hashtext(?))", r -> null, "canopy.model." + name);
    }

    /** Re-makes a promotion the database recorded but the registry may have missed (a crash in between), unless production moved since. */
    void repairPromotion(String name, int version) {
        Sql.tx(db, "repair a promotion", c -> {
            lockName(c, name);
            Integer last = Sql.one(c, "SELECT version FROM stage_history WHERE name = ? AND stage = 'production' ORDER BY id DESC LIMIT 1",
                    r -> r.getInt(1), name).orElse(null);
            if (last != null && last == version) registry.promote(name, version, "production");
            return null;
        });
    }

    private void moveStage(Connection c, String name, String stage, int version, String action, String actor, Instant now) throws SQLException {
        // what the stage held before: the registry's pointer (the truth), whoever moved it
        Integer previous = registry.versions(name).stream().filter(x -> x.stage().equals(stage)).map(ModelRegistry.Version::version).findFirst().orElse(null);
        if (previous != null && previous == version) return;
        Sql.update(c, "INSERT INTO stage_history (name, stage, version, previous, action, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                name, stage, version, previous, action, actor, now);
    }

    /**
     * May {@code caller} retrain {@code name}? An admin may retrain any model; a team may retrain a model it owns,
     * or make a new one (it then owns it); models registered outside the control plane belong to admins.
     */
    void checkMayRetrain(String name, Principals.Caller caller) {
        if (caller.seesAll()) return;
        boolean exists = registry.names().contains(name);
        String owner = Sql.tx(db, "claim a model", c -> {
            if (!exists) Sql.update(c, "INSERT INTO model_owners (name, team, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING", name, caller.team(),
                    clock.instant());
            return Sql.one(c, "SELECT team FROM model_owners WHERE name = ?", r -> r.getString(1), name).orElse(null);
        });
        if (owner == null || !owner.equals(caller.team())) {
            throw new ApiError(403, "model_not_owned", "model '" + name + "' " + (owner == null ? "was registered outside the control plane" : "belongs to another team")
                    + "; retrain it with an admin token, or retrain under a model name of your own");
        }
    }

    List<Map<String, Object>> history(String name) {
        return Sql.read(db, "read stage history", c -> Sql.query(c, "SELECT * FROM stage_history WHERE name = ? ORDER BY id", r -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", r.getString("stage"));
            m.put("version", r.getInt("version"));
            m.put("previous", r.getObject("previous"));
            m.put("action", r.getString("action"));
            m.put("actor", r.getString("actor"));
            m.put("at", String.valueOf(Sql.instant(r, "at")));
            return m;
        }, name));
    }

    static void audit(Connection c, Instant at, String actor, String action, String subject, Map<String, Object> detail) throws SQLException {
        Sql.update(c, "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?::jsonb)", at, actor, action, subject,
                Json.writeString(detail));
    }
}
