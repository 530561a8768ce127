package dev.canopy.control;

import dev.canopy.api.Json;
import dev.canopy.cluster.ClusterSpec;
import dev.canopy.cluster.ClusterStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The control plane's record of its clusters, in its database: the spec and bundle asked for, who asked and when,
 * the state last seen, and when a cluster was deleted. Every change made through the API is also in the audit log.
 * Threads: any; each call is its own transaction.
 */
final class ClusterRecords {
    private final DataSource db;
    private final Clock clock;

    ClusterRecords(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** Records a cluster made through the API (a name used before by a deleted cluster starts a new record). */
    void created(ClusterSpec spec, ClusterStatus s, String actor) {
        Instant now = clock.instant();
        Sql.tx(db, "record a cluster", c -> {
            Sql.update(c, "INSERT INTO clusters (name, spec, state, master_url, bundle, created_by, created_at, updated_at) VALUES (?, ?::jsonb, ?, ?, ?, ?, ?, ?) "
                    + "ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, state = EXCLUDED.state, master_url = EXCLUDED.master_url, bundle = EXCLUDED.bundle, "
                    + "created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, deleted_at = NULL",
                    spec.name(), Json.writeString(specOf(spec)), s.state(), s.masterUrl(), s.bundle(), actor, now, now);
            Models.audit(c, now, actor, "cluster.create", spec.name(), specOf(spec));
            return null;
        });
    }

    /** The state seen now; a change made by {@code actor} (null: only looked at) goes to the audit log too. */
    void seen(ClusterStatus s, String actor, String action, Map<String, Object> detail) {
        Instant now = clock.instant();
        Sql.tx(db, "update a cluster record", c -> {
            // a cluster made with the CLI on this host is recorded the first time the service sees it
            Sql.update(c, "INSERT INTO clusters (name, spec, state, master_url, bundle, created_by, created_at, updated_at) VALUES (?, '{}'::jsonb, ?, ?, ?, "
                    + "'canopy cluster (found on the host)', ?, ?) ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, master_url = EXCLUDED.master_url, "
                    + "bundle = EXCLUDED.bundle, updated_at = EXCLUDED.updated_at, deleted_at = NULL", s.name(), s.state(), s.masterUrl(), s.bundle(), now, now);
            if (actor != null) Models.audit(c, now, actor, action, s.name(), detail == null ? Map.of() : detail);
            return null;
        });
    }

    void deleted(String name, String actor) {
        Instant now = clock.instant();
        Sql.tx(db, "record a deleted cluster", c -> {
            Sql.update(c, "UPDATE clusters SET state = 'DELETED', deleted_at = ?, updated_at = ? WHERE name = ?", now, now, name);
            Models.audit(c, now, actor, "cluster.delete", name, Map.of());
            return null;
        });
    }

    /** Who made the cluster and when, as the view shows it. */
    Optional<Map<String, Object>> origin(String name) {
        return Sql.read(db, "read a cluster record", c -> Sql.one(c, "SELECT created_by, created_at FROM clusters WHERE name = ?", r -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("created_by", r.getString(1));
            m.put("created_at", String.valueOf(Sql.instant(r, "created_at")));
            return m;
        }, name));
    }

    static Map<String, Object> specOf(ClusterSpec s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("workers", s.workers());
        m.put("worker_cores", s.workerCores());
        m.put("worker_memory", s.workerMemory());
        if (s.bundle() != null) m.put("bundle", s.bundle());
        return m;
    }
}
