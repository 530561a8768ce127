package dev.canopy.control;

import dev.canopy.api.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs jobs as driver processes and watches them. Every {@link ControlSettings#tick()}, on one thread:
 * <ol>
 *   <li>each driver this server holds: its {@code progress.json} goes to the database with the lease
 *       renewal (the heartbeat); a requested cancel stops the driver; an exited driver ends the job
 *       (succeeded when its output has {@code _SUCCESS}, else failed with the log's last error);</li>
 *   <li>running jobs whose lease expired (their server died) are taken over: the driver is re-attached
 *       when it still runs on this host, a finished one is recorded, otherwise the job restarts with
 *       batch inference's {@code --resume} (committed shards are kept, none is written twice);</li>
 *   <li>queued jobs are claimed while fewer than {@link ControlSettings#maxRunningJobs()} drivers run.</li>
 * </ol>
 * Drivers write their logs to {@code driver.log} in the job folder (never to a pipe from the server), so
 * a server that dies leaves them running; {@link #close} lets go of the jobs without stopping them.
 */
final class JobSupervisor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobSupervisor.class);
    static final String LOG_FILE = "driver.log";
    static final String OUTPUT = "output";
    private static final Duration KILL_GRACE = Duration.ofSeconds(10);

    private final Jobs jobs;
    private final Labels labels;
    private final Models models;
    private final ControlSettings settings;
    private final String owner = Ids.next("srv");
    private final String host = hostName();
    private final Map<String, Running> running = new ConcurrentHashMap<>();
    private final ScheduledExecutorService loop;

    /** A driver this server holds: its process (a child, or a re-attached handle) and when a stop was asked. */
    private static final class Running {
        final Jobs.Job job;
        final ProcessHandle handle;
        final Process child; // null when re-attached after a restart: the exit code is then unknown
        long stopAskedAt = -1;
        Map<String, Object> lastProgress;

        Running(Jobs.Job job, ProcessHandle handle, Process child) {
            this.job = job;
            this.handle = handle;
            this.child = child;
        }
    }

    JobSupervisor(Jobs jobs, Labels labels, Models models, ControlSettings settings) {
        this.jobs = jobs;
        this.labels = labels;
        this.models = models;
        this.settings = settings;
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "canopy-job-supervisor");
            t.setDaemon(true);
            return t;
        });
    }

    void start() {
        loop.scheduleWithFixedDelay(this::tick, 0, settings.tick().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** One pass; runs on the supervisor thread only. A failure (database down, ...) is logged and the next pass tries again. */
    void tick() {
        try {
            for (Running r : new ArrayList<>(running.values())) watch(r);
            for (Jobs.Job j : jobs.claimExpired(owner, Math.max(0, settings.maxRunningJobs() - running.size()), settings.lease())) takeOver(j);
            for (Jobs.Job j : jobs.claimQueued(owner, settings.maxRunningJobs() - running.size(), settings.lease())) launch(j, false);
        } catch (RuntimeException e) {
            LOG.warn("job supervisor pass failed (retrying): {}", e.toString());
        }
    }

    private void watch(Running r) {
        String id = r.job.id();
        Path folder = Path.of(r.job.folder());
        if (!r.handle.isAlive()) {
            Integer code = r.child == null ? null : r.child.exitValue();
            boolean ok = Files.exists(folder.resolve(OUTPUT).resolve("_SUCCESS")) && (code == null || code == 0);
            Optional<Jobs.Job> now = jobs.heartbeat(id, owner, settings.lease(), readProgress(folder));
            if (now.isEmpty()) { // the lease was lost: the job's new holder records the outcome, not this server
                running.remove(id);
                LOG.warn("job {}: its driver ended after another server took the job over", id);
                return;
            }
            boolean cancelled = now.get().cancelRequested() && !ok;
            if (ok) succeed(now.get(), folder);
            else if (cancelled) jobs.finish(id, owner, "cancelled", null, "cancelled while running");
            else if (r.child == null && now.get().launches() < MAX_LAUNCHES) {
                // a re-attached driver ended without success and its exit code is unknown (it may have been stopped by the
                // server it belonged to): resume rather than fail
                running.remove(id);
                launch(now.get(), true);
                return;
            } else jobs.finish(id, owner, "failed", null, lastError(folder, code));
            running.remove(id); // only now: a database error above leaves the job here, to be finished on the next pass
            return;
        }
        Map<String, Object> p = readProgress(folder);
        Optional<Jobs.Job> now = jobs.heartbeat(id, owner, settings.lease(), p != null && !p.equals(r.lastProgress) ? p : null);
        r.lastProgress = p;
        if (now.isEmpty()) { // another server holds it now (this one was too slow to renew)
            running.remove(id);
            // adopted only when the new holder has attached to this very process; before that, it may be starting its own
            boolean adopted = jobs.get(id).map(j -> j.attachedBy() != null && j.attachedBy().equals(j.leaseOwner()) && j.pid() != null
                    && j.pid() == r.handle.pid() && host.equals(j.host())).orElse(false);
            if (!adopted) {
                // the new holder runs a driver of its own (resumed elsewhere): two would write the same output
                LOG.warn("job {} was taken over by another server; stopping this server's driver", id);
                r.handle.destroyForcibly();
            } else {
                LOG.warn("job {} was taken over by another server, which re-attached to its driver", id);
            }
            return;
        }
        if (now.get().cancelRequested()) {
            long t = System.nanoTime();
            if (r.stopAskedAt < 0) {
                r.stopAskedAt = t;
                r.handle.destroy(); // SIGTERM: the driver's shutdown hook stops its Spark jobs
            } else if (t - r.stopAskedAt > KILL_GRACE.toNanos()) {
                r.handle.destroyForcibly();
            }
        }
    }

    /** Drivers started for one job before it is failed: restarts of the server that only re-attach do not count. */
    static final int MAX_LAUNCHES = 5;

    private void takeOver(Jobs.Job j) {
        Path folder = Path.of(j.folder());
        if (j.pid() != null && host.equals(j.host())) {
            Optional<ProcessHandle> h = ProcessHandle.of(j.pid()).filter(ProcessHandle::isAlive).filter(p -> isDriverOf(p, j.id()));
            if (h.isPresent()) {
                if (jobs.attached(j.id(), owner)) {
                    LOG.info("job {}: re-attached to its driver (pid {})", j.id(), j.pid());
                    running.put(j.id(), new Running(j, h.get(), null));
                }
                return; // not attached: another server holds the job again
            }
        }
        if (j.pid() != null && host.equals(j.host())) {
            // a warm driver that lost the job's lease (a stall) must not go on writing beside the cold driver about to run it
            ProcessHandle.of(j.pid()).filter(ProcessHandle::isAlive).filter(JobSupervisor::isWarmDriver).ifPresent(p -> {
                LOG.warn("job {}: its warm driver (pid {}) lost the lease; stopping it before the job runs again", j.id(), j.pid());
                p.destroyForcibly();
                p.onExit().orTimeout(15, TimeUnit.SECONDS).exceptionally(t -> p).join();
            });
        }
        if (Files.exists(folder.resolve(OUTPUT).resolve("_SUCCESS"))) {
            succeed(j, folder);
            return;
        }
        if (j.cancelRequested()) {
            jobs.finish(j.id(), owner, "cancelled", null, "cancelled while its server was down");
            return;
        }
        if (j.launches() >= MAX_LAUNCHES) { // a job whose driver keeps dying (or kills its server) must not run forever
            jobs.finish(j.id(), owner, "failed", null, "gave up after " + MAX_LAUNCHES + " drivers: none finished; see the log");
            return;
        }
        LOG.info("job {}: its driver is gone; resuming it", j.id());
        launch(j, true);
    }

    /**
     * Records a finished job's result. A retrain job's gate decision is applied first (database, then registry;
     * both repeatable), so that a server dying here repeats it on take-over rather than losing it.
     */
    private void succeed(Jobs.Job j, Path folder) {
        try {
            Map<String, Object> result = j.kind().equals("retrain") ? RetrainOutcome.apply(j, folder, models) : Results.of(j);
            jobs.finish(j.id(), owner, "succeeded", result, null);
        } catch (RuntimeException e) {
            LOG.warn("job {}: cannot record its result: {}", j.id(), e.toString());
            jobs.finish(j.id(), owner, "failed", null, "the driver finished but its result cannot be read: " + e.getMessage());
        }
    }

    private static boolean isWarmDriver(ProcessHandle p) {
        return p.info().arguments().map(a -> List.of(a).contains("warm-driver")).orElse(false);
    }

    private static boolean isDriverOf(ProcessHandle p, String jobId) {
        return p.info().arguments().map(a -> List.of(a).contains(DriverCommand.JOB_MARK + jobId))
                .orElse(p.info().commandLine().map(c -> c.contains(DriverCommand.JOB_MARK + jobId)).orElse(false));
    }

    private void launch(Jobs.Job j, boolean resume) {
        Path folder = Path.of(j.folder());
        try {
            Files.createDirectories(folder);
            if (j.kind().equals("retrain")) RetrainOutcome.exportLabels(j, folder, labels);
            // resume when a plan was recorded; a driver that died before recording one left nothing to resume, so it starts afresh
            List<String> args = driverArgs(j, folder, Files.exists(folder.resolve(OUTPUT).resolve("_job.json")));
            List<String> cmd = settings.driver().command(j.id(), settings.home(), args);
            Files.writeString(folder.resolve(LOG_FILE), "canopy: starting driver (attempt " + j.attempts() + "): " + String.join(" ", args) + "\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            Process p = new ProcessBuilder(cmd).directory(folder.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(folder.resolve(LOG_FILE).toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            try {
                jobs.started(j.id(), owner, p.pid(), host);
            } catch (RuntimeException e) {
                p.destroyForcibly(); // unrecorded, nobody could find it again: it must not run
                throw e;
            }
            running.put(j.id(), new Running(j, p.toHandle(), p));
        } catch (IOException | RuntimeException e) {
            LOG.warn("job {}: cannot start its driver: {}", j.id(), e.toString());
            jobs.finish(j.id(), owner, "failed", null, "cannot start the driver: " + e.getMessage());
        }
    }

    /** The CLI arguments that run job {@code j} in {@code folder}. */
    static List<String> driverArgs(Jobs.Job j, Path folder, boolean resume) throws IOException {
        if (j.kind().equals("retrain")) return List.of("retrain-run", "--folder", folder.toString());
        Path area = folder.resolve("area.geojson");
        Files.writeString(area, Json.writeString(j.request().get("area")));
        List<String> args = new ArrayList<>(List.of("infer", "--survey", String.valueOf(j.request().get("survey_uri")), "--area", area.toString(),
                "--model", j.model(), "--out", folder.resolve(OUTPUT).toString()));
        if (resume) args.add("--resume");
        if (j.request().get("cluster") instanceof String cluster) args.addAll(List.of("--cluster", cluster)); // a cold driver on the named cluster
        return args;
    }

    static Map<String, Object> readProgress(Path folder) {
        Path f = folder.resolve(OUTPUT).resolve("progress.json");
        try {
            return Jsonb.map(Files.readString(f));
        } catch (IOException | RuntimeException e) {
            return null; // not written yet, or caught mid-rename: the next pass reads it
        }
    }

    /** The driver's own last error line ("canopy: ..."), else its exit code. */
    static String lastError(Path folder, Integer code) {
        try {
            List<String> lines = Files.readAllLines(folder.resolve(LOG_FILE), StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                String l = lines.get(i);
                if (l.startsWith("canopy: ") && !l.startsWith("canopy: starting driver")) return l.substring("canopy: ".length());
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            // no log: say what is known
        }
        return code == null ? "the driver stopped without finishing; see the log" : "the driver exited with code " + code + "; see the log";
    }

    int runningCount() {
        return running.size();
    }

    /** Stops every driver this server holds (tests; a server shutting down normally leaves them running). */
    void stopDrivers() {
        for (Running r : running.values()) {
            r.handle.destroyForcibly();
            r.handle.onExit().join();
        }
    }

    @Override
    public void close() {
        loop.shutdownNow();
        try {
            loop.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // let go at once so that the next server re-attaches without waiting for the lease to expire
        for (Running r : running.values()) {
            try {
                jobs.release(r.job.id(), owner);
            } catch (RuntimeException e) {
                LOG.warn("job {}: cannot release it: {}", r.job.id(), e.toString());
            }
        }
        running.clear();
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

}
