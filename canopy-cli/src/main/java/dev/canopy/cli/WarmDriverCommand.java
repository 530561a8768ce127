package dev.canopy.cli;

import dev.canopy.cluster.ClusterStatus;
import dev.canopy.control.Database;
import dev.canopy.control.WarmQueue;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code canopy cluster warm-driver NAME}: one member of a cluster's warm pool, started by {@code canopy server}
 * (POST /v1/clusters/NAME/warm-pool). It starts a Spark application on the cluster with its share of the cores
 * ({@code spark.cores.max}), runs a small job on every executor so that they are up and have loaded the bundle's
 * classes, then takes the cluster's prediction jobs from the control plane's queue one at a time and runs each in
 * the same application: no JVM, no application and no executor to start, and the model stays loaded in the executors
 * after the first job. It exits after its idle timeout, when the pool is shrunk, or when its cluster goes away.
 *
 * <p>Threads: the main thread claims and runs jobs; a scheduled thread heartbeats every second (the pool row and the
 * running job's lease and progress) and cancels the Spark jobs of a job that was cancelled or taken over.
 */
@Command(name = "warm-driver", hidden = true, mixinStandardHelpOptions = true,
        description = "A warm driver of a cluster's pool (started by canopy server; see POST /v1/clusters/{name}/warm-pool).")
final class WarmDriverCommand extends ClusterCommand.Named {
    @Option(names = "--idle-timeout", defaultValue = "600", description = "Seconds without a job before exiting (default: ${DEFAULT-VALUE})")
    int idleTimeout;
    @Option(names = "--size", defaultValue = "1", description = "Drivers in the pool: each takes 1/size of the cluster's cores (default: ${DEFAULT-VALUE})")
    int size;
    @Option(names = "--slot", hidden = true, description = "The pool row the server made for this driver (its size counted before the start)")
    String slot;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Main main = parent.main;
        dev.canopy.cluster.ClusterProvider provider = ClusterCommand.provider(main);
        ClusterStatus cluster = provider.status(dev.canopy.cluster.ClusterSpec.checkName(name));
        if (!cluster.state().equals(ClusterStatus.RUNNING)) throw new UsageException("cluster '" + name + "' is not running", "start it first");
        String url = System.getenv(DB_URL_ENV);
        try (Database db = url == null ? Database.embeddedOrRunning(main.home().root().resolve("db"))
                : Database.connect(url, System.getenv().getOrDefault(DB_USER_ENV, System.getProperty("user.name")), System.getenv("CANOPY_DB_PASSWORD"), null)) {
            java.util.Optional<WarmQueue> joined = slot == null
                    ? java.util.Optional.of(new WarmQueue(db.dataSource(), Clock.systemUTC(), name, ProcessHandle.current().pid(), host(), Duration.ofSeconds(idleTimeout)))
                    : WarmQueue.takeSlot(db.dataSource(), Clock.systemUTC(), slot, name, ProcessHandle.current().pid(), host());
            if (joined.isEmpty()) {
                out.println("warm pool slot " + slot + " of " + name + " is gone (the pool was made smaller meanwhile): not needed, exiting");
                return 0;
            }
            return run(joined.get(), cluster, provider, main, out);
        }
    }

    private int run(WarmQueue taken, ClusterStatus cluster, dev.canopy.cluster.ClusterProvider provider, Main main, PrintWriter out) throws Exception {
        try (WarmQueue queue = taken) {
            AtomicReference<WarmQueue.Claimed> current = new AtomicReference<>();
            AtomicBoolean wanted = new AtomicBoolean(true);
            AtomicReference<SparkSession> session = new AtomicReference<>();
            ScheduledExecutorService beat = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "canopy-warm-heartbeat");
                t.setDaemon(true);
                return t;
            });
            // from the start: a driver still bringing its executors up is alive, not stale
            long[] beats = {0};
            beat.scheduleWithFixedDelay(() -> heartbeat(queue, provider, cluster.masterUrl(), current, wanted, session, ++beats[0] % 5 == 0, out),
                    1, 1, TimeUnit.SECONDS);
            try {
                int cores = Math.max(1, cluster.cores() / Math.max(1, size));
                System.setProperty("spark.cores.max", Integer.toString(cores)); // its share, so that several applications share the cluster
                SparkSession spark = dev.canopy.spark.SparkSessions.create(ClusterCommand.join(provider, cluster), "canopy-warm-" + name, List.of());
                session.set(spark);
                try {
                    long t0 = System.nanoTime();
                    // no free cores (the cluster is busy or too small) must not keep a half-started driver for ever
                    java.util.concurrent.CompletableFuture.runAsync(() -> dev.canopy.spark.SparkSessions.warmUp(spark, cores * 2))
                            .get(WARM_UP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    queue.ready();
                    out.printf("warm driver %s on %s (%s): ready in %.1f s with %d cores%n", queue.id(), name, spark.sparkContext().applicationId(),
                            (System.nanoTime() - t0) / 1e9, cores);
                    out.flush();
                    InferCommand.WARM_SESSION = spark;
                    serve(queue, spark, main, out, current, wanted);
                } catch (java.util.concurrent.TimeoutException e) {
                    out.println("the executors did not come up within " + WARM_UP_TIMEOUT.toSeconds() + " s (no free cores?): exiting");
                    return 1;
                } finally {
                    InferCommand.WARM_SESSION = null;
                    spark.stop();
                }
            } finally {
                beat.shutdownNow();
            }
        }
        return 0;
    }

    static final Duration WARM_UP_TIMEOUT = Duration.ofSeconds(120);
    /** The database of a server that is not the home's embedded one: given by the server in the environment (never on a command line). */
    static final String DB_URL_ENV = "CANOPY_DB_URL";
    static final String DB_USER_ENV = "CANOPY_DB_USER";

    /**
     * One beat (the heartbeat thread): the pool row, the running job's lease and progress, and, every fifth beat, the
     * cluster itself. A job that must stop (cancelled, or taken over) has its Spark jobs cancelled, but only while it is
     * still the running one. A cluster that stopped, restarted (another master) or lost this application ends the driver:
     * its jobs go back to the queue's lease holders, who run them cold.
     */
    private void heartbeat(WarmQueue queue, dev.canopy.cluster.ClusterProvider provider, String master, AtomicReference<WarmQueue.Claimed> current,
                           AtomicBoolean wanted, AtomicReference<SparkSession> session, boolean checkCluster, PrintWriter out) {
        try {
            WarmQueue.Claimed c = current.get();
            SparkSession spark = session.get();
            if (c != null && !queue.renew(c) && current.get() == c && spark != null) spark.sparkContext().cancelAllJobs();
            if (!queue.heartbeat()) wanted.set(false);
            if (checkCluster) {
                String why = null;
                try {
                    ClusterStatus now = provider.status(name);
                    if (!now.state().equals(ClusterStatus.RUNNING) || !now.masterUrl().equals(master) || (spark != null && spark.sparkContext().isStopped())) {
                        why = "is " + now.state().toLowerCase(java.util.Locale.ROOT) + " at " + now.masterUrl();
                    }
                } catch (dev.canopy.api.CanopyException e) {
                    // deleted: the master is gone for good, and its jobs would wait on it for ever (an unreadable record may be a blip)
                    if (e.code().equals("cluster.unknown")) why = "is gone (deleted)";
                    else throw e;
                }
                if (why != null) {
                    out.println("cluster " + name + " " + why + ": exiting");
                    out.flush();
                    WarmQueue.Claimed held = current.get();
                    if (held != null) queue.release(held); // a server takes it over at once and resumes it cold
                    queue.close();
                    Runtime.getRuntime().halt(3); // the main thread may be blocked in a Spark job that can never finish
                }
            }
        } catch (RuntimeException e) {
            // the database or the master blinked: the next beat tries again (the lease outlasts a few misses)
        }
    }

    private void serve(WarmQueue queue, SparkSession spark, Main main, PrintWriter out, AtomicReference<WarmQueue.Claimed> current,
                       AtomicBoolean wanted) throws Exception {
        long idleSince = System.nanoTime();
        while (wanted.get()) {
            Optional<WarmQueue.Claimed> next;
            try {
                next = queue.stillWanted() ? queue.claim() : Optional.empty();
                if (!queue.stillWanted()) break;
            } catch (RuntimeException | java.io.IOException e) {
                // the database is away (a server restarting its embedded one): wait for it rather than die
                Thread.sleep(1000);
                continue;
            }
            if (next.isEmpty()) {
                if (System.nanoTime() - idleSince > TimeUnit.SECONDS.toNanos(idleTimeout)) {
                    out.println("idle for " + idleTimeout + " s: exiting");
                    return;
                }
                Thread.sleep(200);
                continue;
            }
            WarmQueue.Claimed c = next.get();
            current.set(c);
            out.println("job " + c.jobId() + ": " + String.join(" ", c.args()));
            out.flush();
            int code = run(main, c, spark.sparkContext().applicationId());
            current.set(null);
            if (code == 0 && Files.exists(c.folder().resolve("output").resolve("_SUCCESS"))) queue.succeed(c);
            else queue.fail(c, "batch inference ended with exit code " + code + "; see the log");
            out.println("job " + c.jobId() + ": exit " + code);
            out.flush();
            idleSince = System.nanoTime();
        }
        out.println("the pool no longer counts this driver: exiting");
    }

    /** Runs the job's command line in this JVM (and so in the warm application), its output appended to the job's log. */
    private static int run(Main main, WarmQueue.Claimed c, String application) throws Exception {
        List<String> args = new ArrayList<>(List.of("--home", main.home().root().toString(), "--no-progress"));
        if (main.registry != null) args.addAll(List.of("--registry", main.registry));
        args.addAll(c.args());
        Files.writeString(c.log(), "canopy: warm driver " + ProcessHandle.current().pid() + " runs it on the warm application " + application + ": "
                        + String.join(" ", c.args()) + "\n",
                StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        try (PrintWriter log = new PrintWriter(Files.newBufferedWriter(c.log(), StandardCharsets.UTF_8, StandardOpenOption.APPEND), true)) {
            return Main.run(args.toArray(String[]::new), log, log);
        }
    }

    static String host() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }
}
