package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.Json;
import dev.canopy.batch.JobProgress;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.spark.SparkSessions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The big end: manifests of 10 and 100 million rows (an index over repeated real parts), planned in a
 * small driver heap, with progress that moves by tiles before any shard commits.
 */
class ScaleTest {
    @TempDir
    static Path tmp;
    static Path home;

    @BeforeAll
    static void setUp() throws Exception {
        home = tmp.resolve("home");
        Path base = tmp.resolve("base");
        MainTest.Result gen = MainTest.run("--no-progress", "survey", "generate", "--out", base.toString(), "--tiles", "20000", "--tile-size", "16",
                "--distinct", "20", "--seed", "3");
        assertThat(gen.code()).as(gen.err()).isZero();
        assertThat(MainTest.run("--no-progress", "--home", home.toString(), "demo", "--help").code()).isZero();
    }

    /** A survey folder whose index claims {@code rows} rows over the base survey's real parts and tiles. */
    static Path survey(String name, long rows) throws Exception {
        Path base = tmp.resolve("base");
        Path s = tmp.resolve(name);
        if (Files.exists(s)) return s;
        try (var walk = Files.walk(base)) {
            for (Path f : walk.toList()) {
                Path t = s.resolve(base.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(t);
                else Files.createLink(t, f);
            }
        }
        ManifestIndex index = ManifestIndex.fromJson(Files.readAllBytes(base.resolve(ManifestWriter.INDEX)));
        Files.delete(s.resolve(ManifestWriter.INDEX));
        Files.write(s.resolve(ManifestWriter.INDEX), index.repeated(rows).toJson());
        return s;
    }

    static Process start(Path log, String xmx, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), xmx));
        cmd.addAll(SparkSessions.javaOptions());
        cmd.addAll(List.of(dev.canopy.api.ClassPathArgs.argFile(System.getProperty("java.class.path")), Main.class.getName(), "--no-progress", "--home", home.toString()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static String model() {
        MainTest.Result t = MainTest.run("--no-progress", "--home", home.toString(), "train", "--survey", tmp.resolve("base").toString(), "--epochs",
                "1", "--input-size", "16", "--max-tiles", "400", "--name", "scale");
        assertThat(t.code()).as(t.err()).isZero();
        return "scale";
    }

    @Test
    void aHundredMillionRowsArePlannedInA512MegabyteDriver() throws Exception {
        String m = model();
        Path survey = survey("s100m", 100_000_000L);
        Path out = tmp.resolve("out-100m");
        Path log = tmp.resolve("dry.log");
        Process p = start(log, "-Xmx512m", "infer", "--model", m, "--survey", survey.toString(), "--out", out.toString(), "--dry-run", "--workers", "16");
        assertThat(p.waitFor(3, TimeUnit.MINUTES)).isTrue();
        String text = Files.readString(log);
        assertThat(p.exitValue()).as(text).isZero();
        assertThat(text).contains("100,000,000 selected of 100,000,000").contains("on 16 workers like it").contains("dry run");
        assertThat(text).containsPattern("shards +\\d[\\d,]* of up to [\\d,]+ rows");
        assertThat(out).doesNotExist(); // nothing written
    }

    @Test
    void progressMovesByTilesBeforeAnyShardCommits() throws Exception {
        String m = model();
        Path survey = survey("s10m", 10_000_000L);
        Path out = tmp.resolve("out-10m");
        Process p = start(tmp.resolve("run.log"), "-Xmx1g", "infer", "--model", m, "--survey", survey.toString(), "--out", out.toString());
        try {
            Path progress = out.resolve(JobProgress.FILE);
            JobProgress[] first = new JobProgress[1];
            Awaitility.await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).until(() -> {
                JobProgress j = read(progress);
                if (j != null && j.stage().equals("running") && j.tilesDone() > 0) first[0] = j;
                return first[0] != null;
            });
            assertThat(first[0].tilesPlanned()).isEqualTo(10_000_000L);
            Awaitility.await().atMost(Duration.ofMinutes(1)).pollInterval(Duration.ofMillis(200))
                    .until(() -> read(progress) != null && read(progress).tilesDone() > first[0].tilesDone());
            JobProgress later = read(progress);
            // shards are sized to take about a minute: the tiles moved long before the first commit
            assertThat(first[0].shardsDone()).isZero();
            assertThat(later.tilesPerSecond()).isPositive();
            assertThat(later.etaSeconds()).isPositive();
            Integer rowsPerShard = Json.MAPPER.readTree(out.resolve("_job.json").toFile()).get("rowsPerShard").asInt();
            assertThat(rowsPerShard).isGreaterThanOrEqualTo(1_000);
            MainTest.Result status = MainTest.run("status", out.toString());
            assertThat(status.out()).contains("running").contains("of 10,000,000 tiles").contains("tiles/s");
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
    }

    static JobProgress read(Path f) {
        try {
            return Json.MAPPER.readValue(f.toFile(), JobProgress.class);
        } catch (Exception e) {
            return null;
        }
    }

    @Test
    void statusCallsAJobWhoseDriverStoppedUpdatingInterrupted() {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        JobProgress p = new JobProgress("running", 1000, 250, 3, 50, 15.0, 0, 4, t, t, null);
        assertThat(StatusCommand.live("file:///j", p, 0, t.plusSeconds(2))).contains("running; 250 of 1,000 tiles (25.0%), 3 errors, 50 tiles/s, ETA 15 s")
                .contains("updated 2 s ago");
        assertThat(StatusCommand.live("file:///j", p, 0, t.plusSeconds(90))).contains("interrupted?").contains("--resume");
    }
}
