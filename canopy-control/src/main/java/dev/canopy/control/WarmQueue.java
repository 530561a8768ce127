package dev.canopy.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The job queue as one warm driver sees it: a long-lived Spark application on a cluster that takes that cluster's
 * prediction jobs (those whose request names it) one at a time from the same table the supervisor claims from,
 * with {@code FOR UPDATE SKIP LOCKED}, so no job is taken twice and no RPC is needed.
 *
 * <p>Contract, for the one thread that drives it:
 * <ul>
 *   <li>{@link #heartbeat} at least every {@link #STALE}/3: while the row is fresh the supervisor leaves the
 *       cluster's jobs to the pool; once it is stale (the process died or hung) the supervisor runs them cold.</li>
 *   <li>{@link #claim} makes a job running under this driver's lease (and emits {@code job.started});
 *       {@link #renew} keeps the lease and publishes progress while it runs, and says when the job was cancelled
 *       or taken over; {@link #succeed} or {@link #fail} ends it with its event, in one transaction each.
 *       A driver that dies mid-job leaves an expiring lease: a server takes the job over and resumes it cold.</li>
 *   <li>{@link #close} removes the row; {@link #stillWanted} turns false when an admin shrank the pool.</li>
 * </ul>
 */
public final class WarmQueue implements AutoCloseable {
    /** A warm driver not heard from for this long is treated as gone. */
    public static final Duration STALE = Duration.ofSeconds(10);
    static final Duration LEASE = Duration.ofSeconds(15);

    /** A job this driver holds: where it runs and the CLI arguments that run it (those a cold driver would get). */
    public record Claimed(String jobId, Path folder, List<String> args) {
        public Path log() {
            return folder.resolve(JobSupervisor.LOG_FILE);
        }
    }

    private final DataSource db;
    private final Clock clock;
    private final Jobs jobs;
    private final String id;
    private final String cluster;
    private final long pid;
    private final String host;

    /** A driver started by hand: it adds its own row to the pool. */
    public WarmQueue(DataSource db, Clock clock, String cluster, long pid, String host, Duration idleTimeout) {
        this(db, clock, cluster, pid, host, Ids.next("wrm"));
        Instant now = clock.instant();
        Sql.tx(db, "register a warm driver", c -> Sql.update(c, "INSERT INTO warm_drivers (id, cluster, pid, host, state, started_at, heartbeat_at, idle_timeout_s) "
                + "VALUES (?, ?, ?, ?, 'starting', ?, ?, ?)", id, cluster, pid, host, now, now, (int) idleTimeout.toSeconds()));
    }

    private WarmQueue(DataSource db, Clock clock, String cluster, long pid, String host, String id) {
        this.db = db;
        this.clock = clock;
        this.jobs = new Jobs(db, clock);
        this.cluster = cluster;
        this.pid = pid;
        this.host = host;
        this.id = id;
    }

    /**
     * A driver the server started for the pool row {@code slot} it made first (so that the pool's size is counted before
     * any process starts): the driver takes the row over. Empty when the row is gone, because the pool was shrunk or
     * stopped meanwhile: the driver is not wanted.
     */
    public static java.util.Optional<WarmQueue> takeSlot(DataSource db, Clock clock, String slot, String cluster, long pid, String host) {
        int taken = Sql.tx(db, "take a warm pool slot", c -> Sql.update(c, "UPDATE warm_drivers SET pid = ?, host = ?, heartbeat_at = ? WHERE id = ? AND cluster = ? "
                + "AND state = 'starting'", pid, host, clock.instant(), slot, cluster));
        return taken == 1 ? java.util.Optional.of(new WarmQueue(db, clock, cluster, pid, host, slot)) : java.util.Optional.empty();
    }

    public String id() {
        return id;
    }

    /** The application holds its executors and the bundle: jobs may come. */
    public void ready() {
        Instant now = clock.instant();
        Sql.tx(db, "mark a warm driver ready", c -> Sql.update(c, "UPDATE warm_drivers SET state = 'idle', ready_at = ?, heartbeat_at = ? WHERE id = ?", now, now, id));
    }

    /** Renews this driver's row; false when the row is gone (the pool was shrunk or stopped): the driver should exit. */
    public boolean heartbeat() {
        return Sql.tx(db, "warm driver heartbeat", c -> Sql.update(c, "UPDATE warm_drivers SET heartbeat_at = ? WHERE id = ?", clock.instant(), id)) == 1;
    }

    /** True while the pool still counts this driver. */
    public boolean stillWanted() {
        return Sql.read(db, "read a warm driver", c -> Sql.one(c, "SELECT id FROM warm_drivers WHERE id = ?", r -> r.getString(1), id)).isPresent();
    }

    /** Takes the oldest queued prediction for this cluster, if any. */
    public Optional<Claimed> claim() throws IOException {
        Instant now = clock.instant();
        Optional<Jobs.Job> taken = Sql.tx(db, "claim a job for a warm driver", c -> {
            // pid and host recorded: a server taking the job over after a stall kills this driver before running the job cold
            Optional<Jobs.Job> j = Sql.one(c, "UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?, started_at = ?, attempts = attempts + 1, "
                    + "pid = ?, host = ?, attached_by = ?, launches = launches + 1 WHERE id = (SELECT id FROM jobs WHERE status = 'queued' "
                    + "AND kind = 'prediction' AND request->>'cluster' = ? ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *",
                    Jobs::row, id, now.plus(LEASE), now, pid, host, id, cluster);
            if (j.isPresent()) {
                Outbox.emit(c, now, "job.started", j.get().team(), j.get().id(), j.get().eventData());
                Sql.update(c, "UPDATE warm_drivers SET state = 'busy', job_id = ?, heartbeat_at = ? WHERE id = ?", j.get().id(), now, id);
            }
            return j;
        });
        if (taken.isEmpty()) return Optional.empty();
        Jobs.Job j = taken.get();
        Path folder = Path.of(j.folder());
        Files.createDirectories(folder);
        List<String> args = JobSupervisor.driverArgs(j, folder, Files.exists(folder.resolve(JobSupervisor.OUTPUT).resolve("_job.json")));
        // the warm application is already on the cluster: the job runs in it, not on a --cluster of its own
        int at = args.indexOf("--cluster");
        if (at >= 0) {
            args = new java.util.ArrayList<>(args);
            args.remove(at + 1);
            args.remove(at);
        }
        return Optional.of(new Claimed(j.id(), folder, List.copyOf(args)));
    }

    /**
     * Keeps the job's lease and stores its latest progress. Answers false when the job must stop: cancelled, or
     * no longer this driver's (a server took it over after a stall).
     */
    public boolean renew(Claimed c) {
        Optional<Jobs.Job> j = jobs.heartbeat(c.jobId(), id, LEASE, JobSupervisor.readProgress(c.folder()));
        heartbeat();
        return j.isPresent() && !j.get().cancelRequested();
    }

    /** Gives the job back: its lease ends now, so a server takes it over (and resumes it cold). */
    public void release(Claimed c) {
        jobs.release(c.jobId(), id);
    }

    /** The job ended with {@code _SUCCESS}: its result (cover, hectares, GeoParquet) is recorded. */
    public void succeed(Claimed c) {
        Jobs.Job j = jobs.get(c.jobId()).orElseThrow();
        Map<String, Object> result;
        try {
            result = Results.of(j);
        } catch (RuntimeException e) {
            fail(c, "the job finished but its result cannot be read: " + e.getMessage());
            return;
        }
        jobs.finish(c.jobId(), id, "succeeded", result, null);
        idle();
    }

    /** Ends the job as cancelled (when asked) or failed. */
    public void fail(Claimed c, String error) {
        boolean cancelled = jobs.get(c.jobId()).map(Jobs.Job::cancelRequested).orElse(false);
        jobs.finish(c.jobId(), id, cancelled ? "cancelled" : "failed", null, cancelled ? "cancelled" : error);
        idle();
    }

    private void idle() {
        Sql.tx(db, "mark a warm driver idle", c -> Sql.update(c, "UPDATE warm_drivers SET state = 'idle', job_id = NULL, jobs_run = jobs_run + 1, "
                + "heartbeat_at = ? WHERE id = ?", clock.instant(), id));
    }

    @Override
    public void close() {
        Sql.tx(db, "remove a warm driver", c -> Sql.update(c, "DELETE FROM warm_drivers WHERE id = ?", id));
    }

    /** What {@code GET /v1/clusters} shows of a cluster's pool: fresh drivers only. */
    static Map<String, Object> poolOf(DataSource db, Clock clock, String cluster) {
        Instant fresh = clock.instant().minus(STALE);
        return Sql.read(db, "read a warm pool", c -> Sql.one(c, "SELECT count(*), count(ready_at), count(*) FILTER (WHERE state = 'busy'), "
                + "coalesce(sum(jobs_run), 0), max(idle_timeout_s) FROM warm_drivers WHERE cluster = ? AND heartbeat_at > ?", r -> {
                    Map<String, Object> m = new java.util.LinkedHashMap<>();
                    m.put("drivers", r.getInt(1));
                    m.put("ready", r.getInt(2));
                    m.put("busy", r.getInt(3));
                    m.put("jobs_run", r.getLong(4));
                    m.put("idle_timeout_s", r.getObject(5));
                    return m;
                }, cluster, fresh)).orElseThrow();
    }
}
