package dev.canopy.control;

import dev.canopy.api.Json;
import dev.canopy.serve.ApiError;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Jobs in the database: the durable queue and the record of every run.
 * <ul>
 *   <li>{@link #submit} inserts a queued job and its idempotency key in one transaction; a concurrent
 *       submission with the same key waits on the key's row and then answers the same job (or 409).</li>
 *   <li>{@link #claimQueued} and {@link #claimExpired} take jobs with {@code FOR UPDATE SKIP LOCKED}, so
 *       several servers on one database never take the same job; a claim is a lease that
 *       {@link #heartbeat} renews and that another server takes over once it expires.</li>
 *   <li>Every status change writes its webhook event to the outbox in the same transaction.</li>
 * </ul>
 * Threads: any; each call uses its own connection.
 */
final class Jobs {
    static final List<String> STATUSES = List.of("queued", "running", "succeeded", "failed", "cancelled");
    static final List<String> KINDS = List.of("prediction", "retrain");

    record Job(String id, long seq, String kind, String team, String status, String model, Map<String, Object> request, String folder,
               Map<String, Object> progress, Map<String, Object> result, String error, boolean cancelRequested, int attempts, Long pid,
               String host, String leaseOwner, Instant leaseUntil, Instant createdAt, Instant startedAt, Instant finishedAt, String attachedBy,
               int launches, String indexedFrom) {
        /** Where batch inference wrote: {@code output/} in the job's folder, or the indexed folder itself. */
        Path outputDir() {
            return indexedFrom != null ? Path.of(indexedFrom) : Path.of(folder).resolve(JobSupervisor.OUTPUT);
        }

        /** The driver's log: {@code driver.log} in the job's folder, or the newest log of an indexed folder (null if none). */
        Path logFile() {
            if (indexedFrom == null) return Path.of(folder).resolve(JobSupervisor.LOG_FILE);
            Path dir = Path.of(indexedFrom).resolve("_logs");
            if (java.nio.file.Files.isSymbolicLink(dir)) return null;
            try (var logs = java.nio.file.Files.list(dir)) {
                // never through a link: the folder is the operator's, the log goes to whoever may read it
                return logs.filter(f -> f.getFileName().toString().endsWith(".log") && java.nio.file.Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                        .max(java.util.Comparator.naturalOrder()).orElse(null);
            } catch (java.io.IOException e) {
                return null;
            }
        }

        boolean terminal() {
            return status.equals("succeeded") || status.equals("failed") || status.equals("cancelled");
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("kind", kind);
            m.put("team", team);
            m.put("status", status);
            m.put("model", model);
            m.put("request", request);
            m.put("progress", progress);
            m.put("result", result);
            m.put("error", error);
            m.put("cancel_requested", cancelRequested);
            m.put("attempts", attempts);
            m.put("created_at", String.valueOf(createdAt));
            m.put("started_at", startedAt == null ? null : startedAt.toString());
            m.put("finished_at", finishedAt == null ? null : finishedAt.toString());
            m.put("log", "/v1/jobs/" + id + "/logs");
            m.put("folder", folder);
            if (indexedFrom != null) m.put("indexed", true); // found under the Canopy home, not run by this server
            return m;
        }

        /** What webhook events carry: enough to act on without another call. */
        Map<String, Object> eventData() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("job_id", id);
            m.put("kind", kind);
            m.put("status", status);
            m.put("model", model);
            m.put("result", result);
            m.put("error", error);
            return m;
        }
    }

    /** A submission's outcome: the job, and whether this call created it (false: an idempotent replay). */
    record Submitted(Job job, boolean created) { }

    private final DataSource db;
    private final Clock clock;

    Jobs(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    Submitted submit(String kind, String team, String model, Map<String, Object> request, String folderRoot, String idempotencyKey,
                     String bodySha256, String actor, Callback callback) {
        Instant now = clock.instant();
        String id = Ids.next("job");
        String folder = folderRoot + "/" + id;
        Optional<Submitted> done = Sql.tx(db, "submit a job", c -> {
            Job made = Sql.one(c, "INSERT INTO jobs (id, kind, team, status, model, request, folder, created_at, created_by) "
                    + "VALUES (?, ?, ?, 'queued', ?, ?::jsonb, ?, ?, ?) RETURNING *", Jobs::row, id, kind, team, model, Json.writeString(request), folder, now,
                    actor).orElseThrow();
            if (callback != null) Sql.update(c, "INSERT INTO job_callbacks (job_id, url, secret) VALUES (?, ?, ?)", id, callback.url(), callback.secret());
            if (idempotencyKey != null) {
                int n = Sql.update(c, "INSERT INTO idempotency_keys (team, key, body_sha256, job_id, created_at) VALUES (?, ?, ?, ?, ?) "
                        + "ON CONFLICT (team, key) DO NOTHING", team, idempotencyKey, bodySha256, id, now);
                if (n == 0) {
                    c.rollback();
                    return Optional.<Submitted>empty();
                }
            }
            return Optional.of(new Submitted(made, true));
        });
        if (done.isPresent()) return done.get();
        // the key was used before: the same body answers the same job, another body is a conflict
        return Sql.read(db, "read an idempotency key", c -> {
            var prior = Sql.one(c, "SELECT body_sha256, job_id FROM idempotency_keys WHERE team = ? AND key = ?",
                    r -> new String[] {r.getString(1), r.getString(2)}, team, idempotencyKey).orElseThrow();
            if (!prior[0].equals(bodySha256)) {
                throw new ApiError(409, "idempotency_key_reused", "Idempotency-Key '" + Page.abbreviate(idempotencyKey)
                        + "' was used for a different request (job " + prior[1] + "); use a new key for a new request");
            }
            return new Submitted(get(c, prior[1]).orElseThrow(), false);
        });
    }

    /** A callback named by a prediction request and the secret its deliveries are signed with. */
    record Callback(String url, String secret) { }

    Optional<Callback> callbackOf(String jobId) {
        return Sql.read(db, "read a callback", c -> Sql.one(c, "SELECT url, secret FROM job_callbacks WHERE job_id = ?",
                r -> new Callback(r.getString(1), r.getString(2)), jobId));
    }

    Optional<Job> get(String id) {
        if (!Ids.looksLike("job", id)) return Optional.empty();
        return Sql.read(db, "read a job", c -> get(c, id));
    }

    private static Optional<Job> get(Connection c, String id) throws SQLException {
        return Sql.one(c, "SELECT * FROM jobs WHERE id = ?", Jobs::row, id);
    }

    /** Filters of {@code GET /v1/jobs}; null means any. */
    record Filter(String team, String kind, String status, String model) { }

    Page<Job> list(Filter f, String cursor, int limit) {
        long after = Page.after(cursor);
        StringBuilder sql = new StringBuilder("SELECT * FROM jobs WHERE seq < ?");
        List<Object> args = new ArrayList<>();
        // newest first: the cursor is the last seq seen, the next page holds smaller ones
        args.add(after == 0 ? Long.MAX_VALUE : after);
        // indexed folders (found under the Canopy home) are shared with every team, as the survey folders found there are
        if (f.team() != null) { sql.append(" AND (team = ? OR indexed_from IS NOT NULL)"); args.add(f.team()); }
        if (f.kind() != null) { sql.append(" AND kind = ?"); args.add(f.kind()); }
        if (f.status() != null) { sql.append(" AND status = ?"); args.add(f.status()); }
        if (f.model() != null) { sql.append(" AND (model = ? OR split_part(model, ':', 1) = ?)"); args.add(f.model()); args.add(f.model()); }
        sql.append(" ORDER BY seq DESC LIMIT ?");
        args.add(limit + 1);
        List<Job> rows = Sql.read(db, "list jobs", c -> Sql.query(c, sql.toString(), Jobs::row, args.toArray()));
        return Page.of(rows, limit, Job::seq);
    }

    /**
     * Cancels a job: a queued one at once, a running one by flagging it for its supervisor (which stops
     * the driver and then marks it). Returns the job as it now stands; 409 if it already ended.
     */
    Job cancel(String id) {
        Instant now = clock.instant();
        return Sql.tx(db, "cancel a job", c -> {
            Job j = Sql.one(c, "SELECT * FROM jobs WHERE id = ? FOR UPDATE", Jobs::row, id).orElseThrow();
            if (j.terminal()) throw new ApiError(409, "job_finished", "job " + id + " already " + j.status() + "; nothing to cancel");
            if (j.status().equals("queued")) {
                Sql.update(c, "UPDATE jobs SET status = 'cancelled', cancel_requested = true, finished_at = ?, error = 'cancelled before it started' "
                        + "WHERE id = ?", now, id);
                Job done = get(c, id).orElseThrow();
                Outbox.emit(c, now, "job.cancelled", done.team(), id, done.eventData());
                return done;
            }
            Sql.update(c, "UPDATE jobs SET cancel_requested = true WHERE id = ?", id);
            return get(c, id).orElseThrow();
        });
    }

    /** Claims up to {@code n} queued jobs, oldest first, for {@code owner}; they become running. */
    List<Job> claimQueued(String owner, int n, Duration lease) {
        if (n <= 0) return List.of();
        Instant now = clock.instant();
        return Sql.tx(db, "claim queued jobs", c -> {
            // a job for a cluster with a live warm pool is the pool's to take (WarmQueue); any other is ours
            List<Job> claimed = Sql.query(c, "UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?, started_at = ?, "
                    + "attempts = attempts + 1, pid = NULL, host = NULL WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' "
                    + "AND NOT EXISTS (SELECT 1 FROM warm_drivers w WHERE w.cluster = jobs.request->>'cluster' AND w.heartbeat_at > ?) "
                    + "ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *", Jobs::row, owner, now.plus(lease), now, now.minus(WarmQueue.STALE), n);
            for (Job j : claimed) Outbox.emit(c, now, "job.started", j.team(), j.id(), j.eventData());
            return claimed;
        });
    }

    /** Claims running jobs whose lease expired (their server died or hung) for {@code owner}. */
    List<Job> claimExpired(String owner, int n, Duration lease) {
        if (n <= 0) return List.of();
        Instant now = clock.instant();
        // attached_by is cleared: until the new holder attaches (or starts a driver), the old holder must not think its driver adopted
        return Sql.tx(db, "claim orphaned jobs", c -> Sql.query(c, "UPDATE jobs SET lease_owner = ?, lease_until = ?, attached_by = NULL WHERE id IN (SELECT id FROM jobs "
                + "WHERE status = 'running' AND lease_until < ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *", Jobs::row, owner,
                now.plus(lease), now, n));
    }

    /** The driver's process, recorded so that a server taking the job over can find it. */
    void started(String id, String owner, long pid, String host) {
        int n = Sql.tx(db, "record a driver", c -> Sql.update(c, "UPDATE jobs SET pid = ?, host = ?, attached_by = ?, launches = launches + 1 "
                + "WHERE id = ? AND lease_owner = ?", pid, host, owner, id, owner));
        if (n == 0) throw new IllegalStateException("job " + id + " is no longer held by this server");
    }

    /** This server's supervisor watches the driver already running (after a take-over); false if the job is no longer its own. */
    boolean attached(String id, String owner) {
        return Sql.tx(db, "attach to a driver", c -> Sql.update(c, "UPDATE jobs SET attached_by = ? WHERE id = ? AND lease_owner = ?", owner, id, owner) == 1);
    }

    /**
     * Renews {@code owner}'s lease and stores the latest progress. Returns the job as it stands, or empty
     * when another server has taken it over (then this one must let go of it).
     */
    Optional<Job> heartbeat(String id, String owner, Duration lease, Map<String, Object> progress) {
        Instant now = clock.instant();
        return Sql.tx(db, "renew a lease", c -> {
            int n = progress == null
                    ? Sql.update(c, "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'running'", now.plus(lease), id, owner)
                    : Sql.update(c, "UPDATE jobs SET lease_until = ?, progress = ?::jsonb WHERE id = ? AND lease_owner = ? AND status = 'running'",
                    now.plus(lease), Json.writeString(progress), id, owner);
            return n == 1 ? get(c, id) : Optional.<Job>empty();
        });
    }

    /** Ends a job held by {@code owner} with its event, in one transaction; false if it was no longer this owner's. */
    boolean finish(String id, String owner, String status, Map<String, Object> result, String error) {
        Instant now = clock.instant();
        return Sql.tx(db, "finish a job", c -> {
            int n = Sql.update(c, "UPDATE jobs SET status = ?, result = ?::jsonb, error = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL "
                    + "WHERE id = ? AND lease_owner = ? AND status = 'running'", status, result == null ? null : Json.writeString(result), error, now, id, owner);
            if (n == 0) return false;
            Job j = get(c, id).orElseThrow();
            Outbox.emit(c, now, "job." + status, j.team(), id, j.eventData());
            return true;
        });
    }

    /** Gives a job back to the queue's lease holders: the lease ends now, so any server (this one too) takes it over. */
    void release(String id, String owner) {
        Sql.tx(db, "release a job", c -> Sql.update(c, "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?", clock.instant(), id, owner));
    }

    static Job row(ResultSet r) throws SQLException {
        return new Job(r.getString("id"), r.getLong("seq"), r.getString("kind"), r.getString("team"), r.getString("status"), r.getString("model"),
                Jsonb.map(r.getString("request")), r.getString("folder"), Jsonb.map(r.getString("progress")), Jsonb.map(r.getString("result")),
                r.getString("error"), r.getBoolean("cancel_requested"), r.getInt("attempts"), Sql.longOrNull(r, "pid"), r.getString("host"),
                r.getString("lease_owner"), Sql.instant(r, "lease_until"), Sql.instant(r, "created_at"), Sql.instant(r, "started_at"),
                Sql.instant(r, "finished_at"), r.getString("attached_by"), r.getInt("launches"), r.getString("indexed_from"));
    }
}
