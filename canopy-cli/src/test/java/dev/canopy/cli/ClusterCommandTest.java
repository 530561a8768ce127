package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A cluster made, used and removed from the command line: infer --cluster runs on its real Master and Workers. */
@Timeout(600)
class ClusterCommandTest {
    @TempDir
    Path tmp;

    MainTest.Result cli(String... args) {
        return MainTest.runIn(tmp.resolve("home"), args);
    }

    @AfterEach
    void nothingLeftRunning() {
        cli("cluster", "stop", "ci"); // harmless when already stopped or deleted
        assertThat(new dev.canopy.cluster.LocalClusterProvider(tmp.resolve("home/clusters"), java.util.List.of(), java.time.Clock.systemUTC()).processes("ci"))
                .as("no Master, Worker or executor (found by its working folder) of the test's cluster").isEmpty();
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains("-Dcanopy.cluster=" + tmp)).orElse(false)))
                .as("no Master, Worker or executor of the test's cluster").isEmpty();
        try (var homes = java.nio.file.Files.list(tmp.resolve("home/clusters"))) { // the links themselves, quietly (JUnit warns for each)
            homes.filter(h -> h.getFileName().toString().startsWith(".spark-home")).forEach(dev.canopy.storage.LocalFiles::deleteQuietly);
        } catch (java.io.IOException nothingLinked) {
            // no cluster was made
        }
    }

    static java.util.List<Path> stderrFiles(Path logs) {
        try (var all = java.nio.file.Files.walk(logs)) {
            return all.filter(p -> p.getFileName().toString().equals("stderr") && p.toString().contains("executors-app-")).toList();
        } catch (java.io.IOException e) {
            return java.util.List.of();
        }
    }

    @Test
    void createInferOnItScaleStopAndDelete() {
        Path survey = tmp.resolve("survey");
        assertThat(cli("survey", "generate", "--out", survey.toString(), "--tiles", "60", "--tile-size", "32").code()).isZero();
        MainTest.Result train = cli("train", "--survey", survey.toString(), "--input-size", "32", "--batch-size", "16", "--epochs", "1",
                "--run", tmp.resolve("run").toString(), "--name", "weeds");
        assertThat(train.code()).as(train.err()).isZero();

        MainTest.Result notYet = cli("infer", "--model", "weeds", "--survey", survey.toString(), "--out", tmp.resolve("x").toString(),
                "--cluster", "ci");
        assertThat(notYet.code()).isEqualTo(2);
        assertThat(notYet.err()).contains("no cluster named 'ci'").contains("canopy cluster list");

        MainTest.Result created = cli("cluster", "create", "ci", "--workers", "1", "--worker-memory", "1g");
        assertThat(created.code()).as(created.err()).isZero();
        assertThat(created.out()).contains("RUNNING", "spark://127.0.0.1:");
        await().atMost(Duration.ofSeconds(90)).until(() -> cli("cluster", "status", "ci").out().contains("1 alive of 1 wanted"));
        assertThat(cli("cluster", "list").out()).contains("ci", "RUNNING", "1/1");

        MainTest.Result both = cli("infer", "--model", "weeds", "--survey", survey.toString(), "--out", tmp.resolve("x").toString(),
                "--cluster", "ci", "--master", "local[2]");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--cluster and --master");

        Path out = tmp.resolve("predictions");
        MainTest.Result infer = cli("infer", "--model", "weeds", "--survey", survey.toString(), "--out", out.toString(),
                "--cluster", "ci", "--rows-per-shard", "20");
        assertThat(infer.code()).as(infer.err()).isZero();
        assertThat(infer.out()).contains("60 (60 ok, 0 errors) in 3 shards", "on spark spark://127.0.0.1:");
        assertThat(out.resolve("_SUCCESS")).exists();
        // the executors ran on the cluster's worker: their logs are in its work folder, and gathered beside the job's log
        assertThat(tmp.resolve("home/clusters/ci/worker-0")).isDirectoryContaining(p -> p.getFileName().toString().startsWith("app-"));
        assertThat(stderrFiles(out.resolve("_logs"))).as("executor logs gathered under the job folder").isNotEmpty();

        // exec: the same commands, named after --; training runs as one task on the cluster's executor and registers
        MainTest.Result exec = cli("cluster", "exec", "ci", "--", "train", "--survey", survey.toString(), "--input-size", "32", "--batch-size", "16",
                "--epochs", "2", "--run", tmp.resolve("run-on-cluster").toString(), "--name", "weeds");
        assertThat(exec.code()).as(exec.err() + exec.out()).isZero();
        assertThat(exec.out()).contains("on cluster ci", "training on spark://127.0.0.1:", "trained small-cnn for 2 epochs on executor", "registered weeds:2");
        assertThat(tmp.resolve("run-on-cluster/checkpoints/latest.json")).exists();
        assertThat(stderrFiles(tmp.resolve("run-on-cluster/_logs"))).isNotEmpty();
        MainTest.Result wrong = cli("cluster", "exec", "ci", "--", "survey", "generate", "--out", tmp.resolve("z").toString());
        assertThat(wrong.code()).isEqualTo(2);
        assertThat(wrong.err()).contains("exec runs one of [infer, train, tune]");

        assertThat(cli("cluster", "scale", "ci", "--workers", "2").code()).isZero();
        await().atMost(Duration.ofSeconds(90)).until(() -> cli("cluster", "status", "ci").out().contains("2 alive of 2 wanted"));

        MainTest.Result stopped = cli("cluster", "stop", "ci");
        assertThat(stopped.out()).contains("STOPPED");
        MainTest.Result stoppedRun = cli("infer", "--model", "weeds", "--survey", survey.toString(), "--out", tmp.resolve("y").toString(),
                "--cluster", "ci");
        assertThat(stoppedRun.code()).isEqualTo(2);
        assertThat(stoppedRun.err()).contains("is stopped").contains("canopy cluster start ci");

        assertThat(cli("cluster", "delete", "ci").out()).contains("deleted cluster ci");
        assertThat(cli("cluster", "list").out()).doesNotContain(" ci ");
    }
}
