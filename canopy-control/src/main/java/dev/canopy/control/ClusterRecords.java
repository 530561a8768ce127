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

    /**
     * The state a look at the host ({@code asOf}: taken before the provider was asked) found, recorded best-effort: a
     * read never fails because its record could not be written. The record changes only when what was seen differs, and
     * never with an older look than the one recorded, so a look that started before a delete cannot bring the cluster back.
     * A cluster seen on the host after it was deleted is a new one (made with the CLI): its record starts again.
     */
    void observed(ClusterStatus s, Instant asOf) {
        try {
            Sql.tx(db, "update a cluster record", c -> {
                upsertSeen(c, s, asOf);
                return null;
            });
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(ClusterRecords.class).warn("could not record what was seen of cluster {}", s.name(), e);
        }
    }

    /**
     * A change {@code actor} made, with its audit entry. {@code asOf}: taken once the provider answered (the provider
     * serialises changes, so a later change cannot be recorded before this one, and a look that started while this
     * change ran is older and gives way).
     */
    void changed(ClusterStatus s, Instant asOf, String actor, String action, Map<String, Object> detail) {
        Sql.tx(db, "update a cluster record", c -> {
            upsertSeen(c, s, asOf);
            Models.audit(c, clock.instant(), actor, action, s.name(), detail == null ? Map.of() : detail);
            return null;
        });
    }

    private static void upsertSeen(java.sql.Connection c, ClusterStatus s, Instant asOf) throws java.sql.SQLException {
        // a cluster made with the CLI on this host is recorded the first time the service sees it
        Sql.update(c, "INSERT INTO clusters (name, spec, state, master_url, bundle, created_by, created_at, updated_at) VALUES (?, '{}'::jsonb, ?, ?, ?, "
                + "'" + FOUND + "', ?, ?) ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, master_url = EXCLUDED.master_url, "
                + "bundle = EXCLUDED.bundle, updated_at = EXCLUDED.updated_at, deleted_at = NULL, "
                + "spec = CASE WHEN clusters.deleted_at IS NULL THEN clusters.spec ELSE EXCLUDED.spec END, "
                + "created_by = CASE WHEN clusters.deleted_at IS NULL THEN clusters.created_by ELSE EXCLUDED.created_by END, "
                + "created_at = CASE WHEN clusters.deleted_at IS NULL THEN clusters.created_at ELSE EXCLUDED.created_at END "
                + "WHERE clusters.updated_at <= EXCLUDED.updated_at AND (clusters.deleted_at IS NOT NULL OR clusters.state IS DISTINCT FROM EXCLUDED.state "
                + "OR clusters.master_url IS DISTINCT FROM EXCLUDED.master_url OR clusters.bundle IS DISTINCT FROM EXCLUDED.bundle)",
                s.name(), s.state(), s.masterUrl(), s.bundle(), asOf, asOf);
    }

    static final String FOUND = "canopy cluster (found on the host)";

    /** Marks the cluster deleted (recording it first if the service never saw it), with its audit entry. */
    void deleted(String name, String actor) {
        Instant now = clock.instant();
        Sql.tx(db, "record a deleted cluster", c -> {
            Sql.update(c, "INSERT INTO clusters (name, spec, state, created_by, created_at, updated_at, deleted_at) VALUES (?, '{}'::jsonb, 'DELETED', '"
                    + FOUND + "', ?, ?, ?) ON CONFLICT (name) DO UPDATE SET state = 'DELETED', deleted_at = EXCLUDED.deleted_at, updated_at = EXCLUDED.updated_at",
                    name, now, now, now);
            Models.audit(c, now, actor, "cluster.delete", name, Map.of());
            return null;
        });
    }

    /** True when the service holds a record of {@code name} not marked deleted. */
    boolean live(String name) {
        return Sql.read(db, "read a cluster record", c -> Sql.one(c, "SELECT 1 FROM clusters WHERE name = ? AND deleted_at IS NULL", r -> true, name)).isPresent();
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
