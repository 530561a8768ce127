package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.canopy.cluster.LocalClusterProvider;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job on a real 2-worker cluster survives what clusters do: a third worker added while it runs, and one worker
 * killed with SIGKILL (its worker JVM and its executor) in the middle. Nothing is lost or duplicated (DuckDB counts
 * the GeoParquet rows and their distinct ids), and once stopped and deleted no process of the cluster is left.
 */
@Timeout(600)
class ClusterFaultsTest {
    static final int TILES = 3000;
    @TempDir
    Path tmp;

    MainTest.Result cli(String... args) {
        return MainTest.runIn(tmp.resolve("home"), args);
    }

    LocalClusterProvider provider() {
        return new LocalClusterProvider(tmp.resolve("home/clusters"), List.of(), Clock.systemUTC());
    }

    @AfterEach
    void nothingLeftRunning() {
        cli("cluster", "delete", "faults");
        assertThat(provider().processes("faults")).as("no Master, Worker or executor of the test's cluster").isEmpty();
    }

    @Test
    void aJobSurvivesAWorkerAddedAndOneKilledMidJob() throws Exception {
        Path survey = tmp.resolve("survey");
        assertThat(cli("survey", "generate", "--out", survey.toString(), "--tiles", "" + TILES, "--tile-size", "32").code()).isZero();
        ModelRegistry r = new ModelRegistry(new FileObjectStore(tmp.resolve("home/registry")), tmp.resolve("cache"), Clock.systemUTC());
        r.registerUntrained("weeds", Architecture.SMALL_CNN, 32, 1);

        MainTest.Result created = cli("cluster", "create", "faults", "--workers", "2", "--worker-memory", "1g");
        assertThat(created.code()).as(created.err()).isZero();
        await().atMost(Duration.ofSeconds(90)).until(() -> cli("cluster", "status", "faults").out().contains("2 alive of 2 wanted"));

        Path out = tmp.resolve("predictions");
        CompletableFuture<MainTest.Result> job = CompletableFuture.supplyAsync(() -> cli("infer", "--model", "weeds", "--survey", survey.toString(),
                "--out", out.toString(), "--cluster", "faults", "--rows-per-shard", "20", "--engine", "pytorch"));
        await().atMost(Duration.ofMinutes(3)).until(() -> committed(out) >= 5 || job.isDone());
        assertThat(job).as("the job must still be running when the cluster changes").isNotDone();

        // a third worker joins while the job runs
        assertThat(cli("cluster", "scale", "faults", "--workers", "3").code()).isZero();
        // worker-0 dies mid-job: its Worker JVM and its executor, with SIGKILL
        Path worker0 = tmp.resolve("home/clusters/faults/worker-0").toRealPath();
        List<ProcessHandle> victims = provider().processes("faults").stream().filter(h -> belongsTo(h, worker0)).toList();
        assertThat(victims).as("worker-0's Worker and its executor").hasSizeGreaterThanOrEqualTo(2);
        int before = committed(out);
        victims.forEach(ProcessHandle::destroyForcibly);
        victims.forEach(h -> h.onExit().join());

        MainTest.Result done = job.get(5, java.util.concurrent.TimeUnit.MINUTES);
        assertThat(done.code()).as(done.err() + done.out()).isZero();
        assertThat(before).as("the kill came before the end").isLessThan(TILES / 20);
        assertThat(out.resolve("_SUCCESS")).exists();
        try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
             ResultSet rs = db.createStatement().executeQuery("SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE status = 'ok') FROM read_parquet('"
                     + out.resolve("shards") + "/*.parquet')")) {
            rs.next();
            assertThat(rs.getLong(1)).as("no tile lost or written twice").isEqualTo(TILES);
            assertThat(rs.getLong(2)).isEqualTo(TILES);
            assertThat(rs.getLong(3)).isEqualTo(TILES);
        }
        assertThat(cli("cluster", "status", "faults").out()).contains("wanted"); // the cluster answers after losing a worker

        assertThat(cli("cluster", "stop", "faults").out()).contains("STOPPED");
        assertThat(provider().processes("faults")).as("stop leaves nothing").isEmpty();
    }

    /** A process of worker-0: its Worker (whose work folder argument is it) or an executor (whose working folder is under it). */
    static boolean belongsTo(ProcessHandle h, Path worker) {
        if (h.info().arguments().map(a -> List.of(a).contains(worker.toString())).orElse(false)) return true;
        try {
            return Files.readSymbolicLink(Path.of("/proc", Long.toString(h.pid()), "cwd")).startsWith(worker);
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    static int committed(Path out) {
        try (var files = Files.list(out.resolve("_committed"))) {
            return (int) files.count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }
}
