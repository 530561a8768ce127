package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    @TempDir
    Path tmp;

    record Result(int code, String out, String err) { }

    /** Runs a command line with {@code --no-progress --home HOME} in front. */
    static Result runIn(Path home, String... args) {
        String[] all = new String[args.length + 3];
        all[0] = "--no-progress";
        all[1] = "--home";
        all[2] = home.toString();
        System.arraycopy(args, 0, all, 3, args.length);
        return run(all);
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] cmd : new String[][] {{"--help"}, {"demo", "--help"}, {"survey", "--help"}, {"survey", "generate", "--help"},
                {"survey", "select", "--help"}, {"survey", "show", "--help"}}) {
            Result r = run(cmd);
            assertThat(r.code()).as(String.join(" ", cmd)).isZero();
            assertThat(r.out()).contains("Usage:");
        }
    }

    @Test
    void badArgumentsExitTwoWithOneLine() {
        Result r = run("survey", "generate", "--out", tmp.toString(), "--tiles", "many");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("--tiles").contains("many");
        assertThat(run("survey", "generate", "--out", "gs://b/x").code()).isEqualTo(2);
        assertThat(run("survey", "generate", "--out", tmp.toString(), "--tiles", "10", "--distinct", "20").err()).contains("--distinct");
        assertThat(run("nonsense").code()).isEqualTo(2);
    }

    @Test
    void generateRefusesToOverwriteAndSelectWritesASubset() throws Exception {
        Path survey = tmp.resolve("s");
        Result first = run("--no-progress", "survey", "generate", "--out", survey.toString(), "--tiles", "100", "--tile-size", "32", "--seed", "5");
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("100 rows");
        long before = Files.getLastModifiedTime(survey.resolve("manifest/_index.json")).toMillis();
        Result again = run("--no-progress", "survey", "generate", "--out", survey.toString(), "--tiles", "50", "--tile-size", "32");
        assertThat(again.code()).isEqualTo(2);
        assertThat(again.err()).contains("already exists").contains("--overwrite");
        assertThat(Files.getLastModifiedTime(survey.resolve("manifest/_index.json")).toMillis()).isEqualTo(before);

        // an area over the north-west corner of the grid
        Path area = tmp.resolve("a.geojson");
        Files.writeString(area, "{\"type\":\"Polygon\",\"coordinates\":[[[146.79,-30.500005],[146.80001,-30.500005],[146.80001,-30.49],[146.79,-30.49],[146.79,-30.500005]]]}");
        Result sel = run("survey", "select", "--survey", survey.toString(), "--area", area.toString(), "--out", tmp.resolve("sub").toString());
        assertThat(sel.code()).as(sel.err()).isZero();
        assertThat(sel.out()).contains("selected 1 tiles");
        Result show = run("survey", "show", "--survey", tmp.resolve("sub").toString());
        assertThat(show.out()).contains("rows     1 ");

        Files.writeString(area, "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}");
        Result bad = run("survey", "select", "--survey", survey.toString(), "--area", area.toString(), "--out", tmp.resolve("sub2").toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("not closed");
    }

    /** Every command's help renders without a picocli warning (an unescaped '%' in a description is one). */
    @Test
    void everyHelpRendersWithoutWarnings() {
        java.io.PrintStream realErr = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true));
        java.util.List<String> rendered = new java.util.ArrayList<>();
        try {
            java.util.Deque<picocli.CommandLine> todo = new java.util.ArrayDeque<>(java.util.List.of(new picocli.CommandLine(new Main())));
            while (!todo.isEmpty()) {
                picocli.CommandLine c = todo.pop();
                String usage = c.getUsageMessage(picocli.CommandLine.Help.Ansi.OFF);
                assertThat(usage).as(c.getCommandSpec().qualifiedName()).contains("Usage:");
                rendered.add(c.getCommandSpec().qualifiedName());
                todo.addAll(c.getSubcommands().values());
            }
        } finally {
            System.setErr(realErr);
        }
        assertThat(rendered).contains("canopy bench tune", "canopy bench train", "canopy serve", "canopy infer");
        assertThat(captured.toString()).as("warnings while rendering help").doesNotContain("WARN");
    }

    @Test
    void demoRunsOnTheHomeFolder() throws Exception {
        Result r = run("--no-progress", "--home", tmp.resolve("home").toString(), "demo", "--tiles", "40");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("40 rows");
        assertThat(tmp.resolve("home/surveys/demo/manifest/_index.json")).exists();
        // every stage left its product: an experiment, a registered model, and a finished inference job over all 40 tiles
        assertThat(r.out()).contains("best configuration:").containsPattern("registered land-cover:\\d+").contains("Invasive weed cover");
        assertThat(tmp.resolve("home/jobs/demo-infer/_SUCCESS")).exists();
        com.fasterxml.jackson.databind.JsonNode summary = dev.canopy.api.Json.MAPPER.readTree(tmp.resolve("home/jobs/demo-infer/summary.json").toFile());
        assertThat(summary.get("rows").asLong()).isEqualTo(40);
        assertThat(summary.get("ok").asLong()).isEqualTo(40);
        assertThat(summary.get("status").asText()).isEqualTo("succeeded");
        double cover = summary.get("estimatedCover").get("invasive_weed").asDouble();
        assertThat(cover).isBetween(0.0, 1.0);
        // re-running the demo replaces its own survey
        assertThat(run("--no-progress", "--home", tmp.resolve("home").toString(), "demo", "--tiles", "40").code()).isZero();
    }

    @Test
    void benchInferMeasuresTheFirstRunOnlyWhenAsked() {
        BenchInfer warm = new BenchInfer();
        new picocli.CommandLine(warm).parseArgs();
        assertThat(warm.noWarmUp).isFalse();
        BenchInfer cold = new BenchInfer();
        new picocli.CommandLine(cold).parseArgs("--no-warm-up");
        assertThat(cold.noWarmUp).isTrue();
        BenchInfer explicit = new BenchInfer();
        new picocli.CommandLine(explicit).parseArgs("--warm-up");
        assertThat(explicit.noWarmUp).isFalse();
    }

    @Test
    void missingSurveyIsAClearError() {
        Result r = run("survey", "show", "--survey", tmp.resolve("nothing").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("no survey manifest").contains("canopy survey generate");
    }
}
