package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code canopy tune} runs as a real child process and is killed with SIGKILL in the middle of the
 * experiment; {@code canopy tune --resume} then finishes it. Every trial ends exactly once and no
 * segment whose result was committed before the kill runs again.
 */
class TuneCrashTest {
    @TempDir
    Path tmp;

    static Process start(Path log, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-Dai.djl.offline=true", dev.canopy.api.ClassPathArgs.argFile(System.getProperty("java.class.path")), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static JsonNode state(Path dir) {
        try {
            return Json.MAPPER.readTree(dir.resolve("experiment.json").toFile());
        } catch (Exception e) {
            return null; // not written yet, or being replaced
        }
    }

    @Test
    void aKilledTuneDriverResumesWithoutRedoingCommittedSegments() throws Exception {
        Path survey = tmp.resolve("survey");
        Path home = tmp.resolve("home");
        assertThat(MainTest.run("--no-progress", "survey", "generate", "--out", survey.toString(), "--tiles", "120", "--tile-size", "32").code()).isZero();
        Path space = tmp.resolve("space.yaml");
        Files.writeString(space, "learning_rate: {loguniform: [0.001, 0.01]}\n");
        Path dir = tmp.resolve("exp");
        Process p = start(tmp.resolve("first.log"), "--no-progress", "--home", home.toString(), "tune", "--survey", survey.toString(),
                "--space", space.toString(), "--scheduler", "fifo", "--samples", "4", "--max-t", "3", "--input-size", "32", "--concurrency", "1",
                "--dir", dir.toString(), "--no-register");
        try {
            // wait for some committed results, but not all 12
            Awaitility.await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(20)).until(() -> {
                JsonNode s = state(dir);
                return s != null && s.get("events").size() >= 4;
            });
            p.destroyForcibly(); // SIGKILL on Linux: no shutdown hooks, no last save
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(137);
        } finally {
            p.destroyForcibly();
        }
        JsonNode before = state(dir);
        assertThat(before.get("status").asText()).isEqualTo("running");
        int committed = before.get("events").size();
        assertThat(committed).isBetween(4, 11);

        Process resume = start(tmp.resolve("resume.log"), "--no-progress", "--home", home.toString(), "tune", "--resume", dir.toString(), "--no-register");
        assertThat(resume.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(resume.exitValue()).as(Files.readString(tmp.resolve("resume.log"))).isZero();

        JsonNode after = state(dir);
        assertThat(after.get("status").asText()).isEqualTo("finished");
        JsonNode events = after.get("events");
        // the committed results are kept as they were, in order
        for (int i = 0; i < committed; i++) assertThat(events.get(i)).isEqualTo(before.get("events").get(i));
        // no segment ran twice: each (trial, iteration) once, and every trial's spent units equal its results
        Set<String> seen = new HashSet<>();
        for (JsonNode e : events) assertThat(seen.add(e.get("trialId").asText() + "@" + e.get("iteration").asInt())).as(e.toString()).isTrue();
        assertThat(events).hasSize(4 * 3);
        assertThat(after.get("trials")).hasSize(4);
        for (JsonNode t : after.get("trials")) {
            assertThat(t.get("status").asText()).as(t.get("id").asText()).isEqualTo("COMPLETED");
            assertThat(t.get("results")).hasSize(3);
            assertThat(t.get("segmentsRun").asInt()).as("segments spent by " + t.get("id").asText()).isEqualTo(3);
        }
    }
}
