package dev.canopy.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.canopy.api.CanopyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Real Spark Masters and Workers as processes: create, inspect, scale, stop with nothing left, delete. */
@Timeout(300)
class LocalClusterProviderTest {
    @TempDir
    Path root;
    LocalClusterProvider provider;

    @AfterEach
    void noProcessLeftBehind() {
        if (provider != null) {
            for (ClusterStatus c : provider.list()) provider.stop(c.name());
        }
        // whatever a test did, no JVM carrying this root's marker may survive it
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains("-Dcanopy.cluster=" + root)).orElse(false)))
                .isEmpty();
        try (var homes = Files.list(root)) { // the links themselves, quietly (JUnit warns for each)
            for (Path home : (Iterable<Path>) homes.filter(h -> h.getFileName().toString().startsWith(".spark-home"))::iterator) {
                try (var links = Files.walk(home)) {
                    for (Path p : (Iterable<Path>) links.sorted(java.util.Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
                }
            }
        } catch (java.io.IOException | java.io.UncheckedIOException ignored) {
            // nothing was linked
        }
    }

    @Test
    void createScaleStopStartAndDeleteACluster() throws Exception {
        provider = LocalClusterProvider.ofThisJvm(root, Clock.systemUTC());
        ClusterStatus created = provider.create(new ClusterSpec("survey", 2, 1, "1g"));
        assertThat(created.state()).isEqualTo(ClusterStatus.RUNNING);
        assertThat(created.masterUrl()).startsWith("spark://127.0.0.1:");
        assertThat(created.workersAlive()).as("create answers once its workers are registered with the master").isEqualTo(2);
        try {
            await().atMost(Duration.ofSeconds(90)).until(() -> provider.status("survey").workersAlive() == 2);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            // what the processes said, for whoever reads a failure in CI
            StringBuilder logs = new StringBuilder();
            try (var files = Files.list(root.resolve("survey"))) {
                for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".log")).sorted().toList()) {
                    String text = Files.readString(f);
                    logs.append("\n== ").append(f.getFileName()).append('\n').append(text, Math.max(0, text.length() - 3000), text.length());
                }
            }
            throw new AssertionError("workers alive: " + provider.status("survey").workersAlive() + " of 2" + logs, e);
        }
        assertThat(provider.processes("survey")).as("the check that finds leftovers finds the running master and workers").hasSize(3);
        try (var homes = Files.list(root)) {
            assertThat(homes.map(h -> h.getFileName().toString()).filter(n -> n.startsWith(".spark-home-"))).as("one Spark home for this class path").hasSize(1);
        }
        ClusterStatus two = provider.status("survey");
        assertThat(two.cores()).isEqualTo(2);
        assertThat(two.memoryMb()).isEqualTo(2048);
        assertThat(provider.list()).extracting(ClusterStatus::name).containsExactly("survey");

        assertThat(provider.scale("survey", 3).workersAlive()).as("scale answers once the new worker is registered").isEqualTo(3);
        provider.scale("survey", 1);
        await().atMost(Duration.ofSeconds(90)).until(() -> provider.status("survey").workersAlive() == 1);

        // a shell (or an editor) open in the cluster's folder is not the cluster's: stopping it leaves it alone
        Process shell = new ProcessBuilder("sleep", "300").directory(root.resolve("survey").toFile()).start();
        ClusterStatus stopped;
        try {
            stopped = provider.stop("survey");
            assertThat(shell.isAlive()).as("a process that merely sits in the cluster's folder survives the stop").isTrue();
        } finally {
            shell.destroyForcibly().waitFor();
        }
        assertThat(stopped.state()).isEqualTo(ClusterStatus.STOPPED);
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains("-Dcanopy.cluster=" + root)).orElse(false)))
                .as("no process of the stopped cluster").isEmpty();
        assertThat(provider.processes("survey")).isEmpty();
        assertThat(root.resolve("survey/master.log")).exists(); // logs stay for the post-mortem

        provider.start("survey");
        await().atMost(Duration.ofSeconds(90)).until(() -> provider.status("survey").workersAlive() == 1);

        provider.delete("survey");
        assertThat(Files.exists(root.resolve("survey"))).isFalse();
        assertThat(provider.list()).isEmpty();
    }

    @Test
    void badNamesSizesAndUnknownClustersAreRefusedWithTheFix() {
        provider = LocalClusterProvider.ofThisJvm(root, Clock.systemUTC());
        assertThatThrownBy(() -> new ClusterSpec("../etc", 1, 1, "1g")).isInstanceOf(CanopyException.class).hasMessageContaining("not allowed");
        assertThatThrownBy(() -> new ClusterSpec("ok", 1, 0, "1g")).isInstanceOf(CanopyException.class).hasMessageContaining("cores");
        assertThatThrownBy(() -> new ClusterSpec("ok", 1, 1, "512m")).isInstanceOf(CanopyException.class).hasMessageContaining("executor");
        assertThatThrownBy(() -> new ClusterSpec("ok", 1, 1, "lots")).isInstanceOf(CanopyException.class).hasMessageContaining("lots")
                .satisfies(e -> assertThat(((CanopyException) e).fix()).contains("1g"));
        assertThatThrownBy(() -> provider.status("nobody")).isInstanceOf(CanopyException.class).hasMessageContaining("nobody")
                .satisfies(e -> assertThat(((CanopyException) e).fix()).contains("canopy cluster list"));
        assertThatThrownBy(() -> provider.scale("nobody", 2)).isInstanceOf(CanopyException.class).hasMessageContaining("no cluster named");
        assertThatThrownBy(() -> provider.start("nobody")).isInstanceOf(CanopyException.class).hasMessageContaining("no cluster named");
        assertThat(root.resolve("nobody")).as("a change to an unknown cluster leaves nothing on disk").doesNotExist();
        // one address to bind, never every network (however it is spelt), and no IPv6 literal that URLs would break on
        for (String wild : List.of("0.0.0.0", "0", "0.0", "00.0.0.0", "::", "::1", "", "a b", "224.0.0.1")) {
            assertThatThrownBy(() -> LocalClusterProvider.checkHost(wild)).as(wild).isInstanceOf(CanopyException.class)
                    .satisfies(e -> assertThat(((CanopyException) e).code()).isEqualTo("cluster.bad_host"));
        }
        assertThat(LocalClusterProvider.checkHost("127.0.0.1")).isEqualTo("127.0.0.1");
        // a name is checked before it becomes a path: nothing is created outside the root
        assertThatThrownBy(() -> provider.stop("../outside")).isInstanceOf(CanopyException.class).hasMessageContaining("not allowed");
        assertThatThrownBy(() -> provider.delete("/tmp/x")).isInstanceOf(CanopyException.class).hasMessageContaining("not allowed");
        assertThat(root.resolveSibling("outside")).doesNotExist();
        assertThat(provider.list()).isEqualTo(List.of());
    }

    @Test
    void aSecondClusterOfTheSameNameIsRefusedAndTheFirstKeepsRunning() {
        provider = LocalClusterProvider.ofThisJvm(root, Clock.systemUTC());
        provider.create(new ClusterSpec("one", 0, 1, "1g"));
        assertThatThrownBy(() -> provider.create(new ClusterSpec("one", 1, 1, "1g"))).isInstanceOf(CanopyException.class)
                .hasMessageContaining("already exists");
        assertThat(provider.status("one").state()).isEqualTo(ClusterStatus.RUNNING);
    }

    @Test
    void aRecordThatCannotBeUsedIsListedAsBrokenAndOneThatWouldListenEverywhereIsNotFollowed() throws Exception {
        provider = LocalClusterProvider.ofThisJvm(root, Clock.systemUTC());
        Files.createDirectories(root.resolve("garbled"));
        Files.writeString(root.resolve("garbled/cluster.json"), "{not json");
        Files.createDirectories(root.resolve("everywhere"));
        Files.writeString(root.resolve("everywhere/cluster.json"), "{\"spec\": {\"name\": \"everywhere\", \"workers\": 1, \"workerCores\": 1, "
                + "\"workerMemory\": \"1g\"}, \"masterPid\": 0, \"masterPort\": 7077, \"uiPort\": 8080, \"workers\": [], \"host\": \"0.0.0.0\"}");
        assertThat(provider.list()).extracting(ClusterStatus::name, ClusterStatus::state)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("everywhere", ClusterStatus.BROKEN), org.assertj.core.groups.Tuple.tuple("garbled", ClusterStatus.BROKEN));
        assertThatThrownBy(() -> provider.start("everywhere")).isInstanceOf(CanopyException.class).hasMessageContaining("every network")
                .satisfies(e -> assertThat(((CanopyException) e).code()).isEqualTo("cluster.corrupt_record"));
        assertThat(provider.processes("everywhere")).isEmpty();
        // deleting them needs no readable record
        provider.delete("everywhere");
        provider.delete("garbled");
        assertThat(root.resolve("everywhere")).doesNotExist();
        assertThat(root.resolve("garbled")).doesNotExist();
    }
}
