package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** tune, infer and their error paths through the real command line. */
class PipelineCommandsTest {
    @TempDir
    static Path shared;
    static Path survey;
    static Path home;
    static Path space;

    @BeforeAll
    static void setUp() throws Exception {
        survey = shared.resolve("survey");
        home = shared.resolve("home");
        assertThat(MainTest.run("--no-progress", "survey", "generate", "--out", survey.toString(), "--tiles", "120", "--tile-size", "32").code()).isZero();
        space = shared.resolve("space.yaml");
        Files.writeString(space, "learning_rate: {loguniform: [0.001, 0.01]}\nbatch_size: {choice: [16, 32]}\n");
    }

    static MainTest.Result cli(String... args) {
        return MainTest.runIn(home, args);
    }

    /** Trials on 2 data-parallel ranks each: every segment a barrier stage of 2 tasks on this machine's Spark. */
    @Test
    void tuneTrainsEachTrialOnTwoRanks() throws Exception {
        Path dir = shared.resolve("exp-dp");
        MainTest.Result tune = cli("tune", "--survey", survey.toString(), "--space", space.toString(), "--samples", "2", "--max-t", "1",
                "--input-size", "32", "--concurrency", "1", "--workers-per-trial", "2", "--dir", dir.toString(), "--name", "tuned-dp");
        assertThat(tune.code()).as(tune.err()).isZero();
        assertThat(tune.out()).contains("of 2 data-parallel ranks each", "registered tuned-dp:1");
        assertThat(Files.readString(dir.resolve("experiment.json"))).contains("\"workers_per_trial\" : 2");
        assertThat(cli("model", "show", "tuned-dp:1").out()).contains("\"workers\" : 2", "tcp-ring");
    }

    @Test
    void tuneRegistersTheBestAndInferWritesGeoParquet() throws Exception {
        MainTest.Result dry = cli("tune", "--survey", survey.toString(), "--space", space.toString(), "--samples", "9", "--max-t", "9", "--dry-run");
        assertThat(dry.code()).as(dry.err()).isZero();
        assertThat(dry.out()).contains("ASHA", "rung", "expected trial-iterations");

        Path dir = shared.resolve("exp");
        MainTest.Result tune = cli("tune", "--survey", survey.toString(), "--space", space.toString(), "--samples", "3", "--max-t", "2",
                "--input-size", "32", "--dir", dir.toString(), "--name", "tuned");
        assertThat(tune.code()).as(tune.err()).isZero();
        assertThat(tune.out()).contains("trial-000", "cost", "best", "registered tuned:1");
        assertThat(dir.resolve("trials.svg")).exists();
        assertThat(dir.resolve("experiment.json")).exists();
        // resuming a finished experiment redoes nothing: no trial runs another segment, no checkpoint is written
        com.fasterxml.jackson.databind.JsonNode before = dev.canopy.api.Json.MAPPER.readTree(dir.resolve("experiment.json").toFile());
        java.util.Map<String, java.nio.file.attribute.FileTime> files = new java.util.TreeMap<>();
        try (var w = Files.walk(dir.resolve("trials"))) {
            for (Path f : (Iterable<Path>) w.filter(Files::isRegularFile)::iterator) files.put(f.toString(), Files.getLastModifiedTime(f));
        }
        MainTest.Result again = cli("tune", "--resume", dir.toString(), "--no-register");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("resuming");
        com.fasterxml.jackson.databind.JsonNode after = dev.canopy.api.Json.MAPPER.readTree(dir.resolve("experiment.json").toFile());
        assertThat(after.get("trials")).hasSize(3);
        for (int i = 0; i < 3; i++) {
            assertThat(after.get("trials").get(i).get("segmentsRun")).isEqualTo(before.get("trials").get(i).get("segmentsRun"));
            assertThat(after.get("trials").get(i).get("status")).isEqualTo(before.get("trials").get(i).get("status"));
        }
        java.util.Map<String, java.nio.file.attribute.FileTime> filesAfter = new java.util.TreeMap<>();
        try (var w = Files.walk(dir.resolve("trials"))) {
            for (Path f : (Iterable<Path>) w.filter(Files::isRegularFile)::iterator) filesAfter.put(f.toString(), Files.getLastModifiedTime(f));
        }
        assertThat(filesAfter).isEqualTo(files);

        Path out = shared.resolve("predictions");
        MainTest.Result infer = cli("infer", "--model", "tuned", "--survey", survey.toString(), "--out", out.toString(), "--rows-per-shard", "50");
        assertThat(infer.code()).as(infer.err()).isZero();
        assertThat(infer.out()).contains("120 (120 ok, 0 errors) in 3 shards", "est. cover");
        assertThat(out.resolve("_SUCCESS")).exists();
        assertThat(cli("status", out.toString()).out()).contains("inference").contains("succeeded").contains("3 of 3 shards");
        assertThat(cli("status", dir.toString()).out()).contains("tune experiment").contains("finished");
        assertThat(cli("status", shared.resolve("nothing").toString()).code()).isEqualTo(2);
        MainTest.Result rerun = cli("infer", "--model", "tuned", "--survey", survey.toString(), "--out", out.toString());
        assertThat(rerun.code()).isEqualTo(2);
        assertThat(rerun.err()).contains("already wrote").contains("--overwrite");
        assertThat(cli("infer", "--model", "tuned", "--survey", survey.toString(), "--out", out.toString(), "--overwrite", "--rows-per-shard", "200").code())
                .isZero();
    }

    @Test
    void badTuneInputIsNamed() throws Exception {
        Path bad = shared.resolve("bad.yaml");
        Files.writeString(bad, "learning_rat: {loguniform: [0.001, 0.01]}\n");
        MainTest.Result r = cli("tune", "--survey", survey.toString(), "--space", bad.toString(), "--samples", "2", "--max-t", "1");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("learning_rat");
        Files.writeString(bad, "learning_rate: {loguniform: [0, 0.01]}\n");
        assertThat(cli("tune", "--survey", survey.toString(), "--space", bad.toString()).err()).contains("'learning_rate'").contains("low > 0");
        assertThat(cli("tune", "--survey", survey.toString(), "--space", space.toString(), "--scheduler", "bohb").err()).contains("unknown scheduler 'bohb'");
        assertThat(cli("tune", "--survey", survey.toString(), "--space", space.toString(), "--max-t", "4", "--grace-period", "9").err())
                .contains("grace_period");
        assertThat(cli("infer", "--model", "ghost", "--survey", survey.toString(), "--out", shared.resolve("x").toString()).err())
                .contains("no model named 'ghost'");
    }
}
