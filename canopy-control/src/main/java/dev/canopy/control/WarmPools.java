package dev.canopy.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sizes a cluster's warm pool: starts warm driver processes ({@code canopy cluster warm-driver NAME}, from the same
 * bundle and launcher as job drivers) up to the size asked, or removes the rows of the ones beyond it (idle first),
 * which makes those processes finish their job, if any, and exit. The processes outlive this server, as drivers do:
 * a restarted server finds the pool in the table. Each driver exits on its own after its idle timeout.
 */
public final class WarmPools {
    private static final Logger LOG = LoggerFactory.getLogger(WarmPools.class);
    static final int MAX_SIZE = 8;
    /** How long a started driver may take to take its slot before the slot counts as dead. */
    static final java.time.Duration SLOT_GRACE = java.time.Duration.ofMinutes(2);
    /** Set in the server's JVM (not on any command line) when its database is not the home's embedded one. */
    public static final String DB_URL_PROPERTY = "canopy.server.db.url";
    public static final String DB_USER_PROPERTY = "canopy.server.db.user";

    private final DataSource db;
    private final Clock clock;
    private final ControlSettings settings;

    WarmPools(DataSource db, Clock clock, ControlSettings settings) {
        this.db = db;
        this.clock = clock;
        this.settings = settings;
    }

    /**
     * Makes the pool of {@code cluster} {@code size} drivers; answers the pool as it now stands. Under a lock per
     * cluster (a PostgreSQL advisory lock: every server on the database), the pool is counted and the rows of the
     * drivers to start are added before any process starts, so two calls at once cannot both start the missing drivers,
     * and a driver still starting counts.
     */
    Map<String, Object> resize(String cluster, int size, int idleTimeoutSeconds) {
        List<String> slots = Sql.tx(db, "size a warm pool", c -> {
            Sql.query(c, "SELECT pg_advisory_xact_lock(hashtext(?))", r -> null, "canopy.warm-pool." + cluster);
            Instant now = clock.instant();
            Instant fresh = now.minus(WarmQueue.STALE);
            // dead drivers; a slot whose process has not taken it yet (pid 0) gets its JVM's start time on a busy host
            Sql.update(c, "DELETE FROM warm_drivers WHERE cluster = ? AND heartbeat_at <= ? AND NOT (pid = 0 AND started_at > ?)", cluster, fresh,
                    now.minus(SLOT_GRACE));
            int alive = Sql.one(c, "SELECT count(*) FROM warm_drivers WHERE cluster = ?", r -> r.getInt(1), cluster).orElse(0);
            if (size < alive) { // their processes see their rows gone: they finish their job, if any, and exit
                Sql.update(c, "DELETE FROM warm_drivers WHERE id IN (SELECT id FROM warm_drivers WHERE cluster = ? "
                        + "ORDER BY (state = 'busy'), started_at DESC LIMIT ?)", cluster, alive - size);
            }
            List<String> ids = new ArrayList<>();
            for (int i = alive; i < size; i++) {
                String id = Ids.next("wrm");
                Sql.update(c, "INSERT INTO warm_drivers (id, cluster, pid, host, state, started_at, heartbeat_at, idle_timeout_s) "
                        + "VALUES (?, ?, 0, '', 'starting', ?, ?, ?)", id, cluster, now, now, idleTimeoutSeconds);
                ids.add(id);
            }
            return ids;
        });
        for (int i = 0; i < slots.size(); i++) {
            try {
                Process p = spawn(cluster, size, idleTimeoutSeconds, slots.get(i));
                String slot = slots.get(i);
                // a driver that dies before taking its slot must not hold it for the grace period
                p.onExit().thenRun(() -> freeUntaken(List.of(slot)));
            } catch (RuntimeException e) {
                freeUntaken(slots.subList(i, slots.size()));
                throw e;
            }
        }
        Map<String, Object> pool = WarmQueue.poolOf(db, clock, cluster);
        pool.put("size", size);
        return pool;
    }

    /** Removes the rows of slots no driver took (pid still 0). */
    private void freeUntaken(List<String> slots) {
        try {
            Sql.tx(db, "free warm pool slots", c -> {
                for (String slot : slots) Sql.update(c, "DELETE FROM warm_drivers WHERE id = ? AND pid = 0", slot);
                return null;
            });
        } catch (RuntimeException e) {
            LOG.warn("could not free warm pool slots {}: they expire after {}", slots, SLOT_GRACE, e);
        }
    }

    private Process spawn(String cluster, int size, int idleTimeoutSeconds, String slot) {
        Path logs = settings.home().resolve("warm").resolve(cluster);
        try {
            Files.createDirectories(logs);
            Path log = logs.resolve("driver-" + System.currentTimeMillis() + "-" + Ids.next("w").substring(2, 8) + ".log");
            List<String> args = new ArrayList<>(List.of("cluster", "warm-driver", cluster, "--idle-timeout", Integer.toString(idleTimeoutSeconds),
                    "--size", Integer.toString(size), "--slot", slot));
            List<String> cmd = settings.driver().command("warm-" + cluster, settings.home(), args);
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(logs.toFile()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            if (System.getProperty(DB_URL_PROPERTY) != null) {
                pb.environment().put("CANOPY_DB_URL", System.getProperty(DB_URL_PROPERTY));
                pb.environment().put("CANOPY_DB_USER", System.getProperty(DB_USER_PROPERTY));
            }
            Process p = pb.start();
            LOG.info("warm driver for cluster {} started (pid {}), log {}", cluster, p.pid(), log);
            return p;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot start a warm driver for cluster " + cluster, e);
        }
    }
}
