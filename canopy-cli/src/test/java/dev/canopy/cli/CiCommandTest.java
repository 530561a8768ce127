package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.batch.InferenceResult;
import dev.canopy.batch.PredictionShardWriter;
import dev.canopy.api.BoundingBox;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Classification;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code canopy ci run} failing as CI needs it to: a pipeline test below its floor gives exit 1, JUnit XML with the
 * failure (the rest skipped with --fail-fast), a summary with the logs' address, and the bundle marked failed; and the
 * DuckDB check catches a tile written twice. (test.sh runs a passing {@code ci run} on the packaged build.)
 */
@Timeout(600)
class CiCommandTest {
    @TempDir
    Path tmp;

    MainTest.Result cli(String... args) {
        return MainTest.runIn(tmp.resolve("home"), args);
    }

    @AfterEach
    void nothingLeft() {
        for (String d : new String[] {"clusters"}) {
            try (var all = Files.list(tmp.resolve("home").resolve(d))) {
                all.filter(p -> p.getFileName().toString().startsWith("ci-")).forEach(p -> cli("cluster", "delete", p.getFileName().toString()));
            } catch (java.io.IOException none) {
                // no cluster made
            }
        }
        assertThat(ServerProcess.processesUnder(tmp))
                .as("no process of the test's cluster").isEmpty();
    }

    @Test
    void aFailingPipelineTestGivesExitOneJUnitWithTheFailureTheLogsAndAFailedBundle() throws Exception {
        MainTest.Result built = cli("bundle", "build");
        String digest = BundleTest.digestIn(built.out());
        Path out = tmp.resolve("ci-run");
        MainTest.Result run = cli("ci", "run", "--bundle", digest, "--out", out.toString(), "--min-val-accuracy", "1.5", "--fail-fast");
        assertThat(run.code()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.out()).contains("FAILED: 1 of 5 tests passed", "logs        " + out.resolve("logs"), "marked failed");
        String junit = Files.readString(out.resolve("junit.xml"));
        assertThat(junit).contains("tests=\"5\" failures=\"1\" errors=\"0\" skipped=\"3\"")
                .contains("name=\"train one epoch on the cluster\"", "<failure message=\"val_accuracy ", "is below the floor 1.500")
                .contains("<skipped message=");
        // a JUnit reader sees one failure among five cases
        var doc = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(out.resolve("junit.xml").toFile());
        assertThat(doc.getElementsByTagName("testcase").getLength()).isEqualTo(5);
        assertThat(doc.getElementsByTagName("failure").getLength()).isEqualTo(1);
        assertThat(Files.readString(out.resolve("summary.json"))).contains("\"passed\" : false", "\"logs\" : \"" + out.resolve("logs"));
        assertThat(out.resolve("logs/train-one-epoch-on-the-cluster.log")).content().contains("$ canopy", "train", "check failed: val_accuracy");
        assertThat(cli("bundle", "show", digest).out()).contains("status      failed");
        assertThat(cli("cluster", "status", "ci-" + digest.substring(7, 15)).out()).as("a cluster the run started is stopped after it").contains("STOPPED");
    }

    @Test
    void aClusterOfTheRunsNameThatRunsOtherJarsIsNotUsed() {
        String digest = BundleTest.digestIn(cli("bundle", "build").out());
        String name = "ci-" + digest.substring(7, 15);
        MainTest.Result made = cli("cluster", "create", name, "--workers", "0");
        assertThat(made.code()).as(made.err()).isZero();
        MainTest.Result run = cli("ci", "run", "--bundle", digest, "--out", tmp.resolve("ci-run").toString());
        assertThat(run.code()).as(run.out()).isNotZero();
        assertThat(run.out() + run.err()).contains("cluster " + name + " runs the launcher's own jars, not " + digest, "canopy cluster delete " + name);
        assertThat(cli("bundle", "show", digest).out()).as("nothing was tested").contains("status      built");
    }

    @Test
    void theOutputCheckCatchesATileWrittenTwiceAndAFailedTile() throws Exception {
        Path shards = tmp.resolve("shards");
        Files.createDirectories(shards);
        List<String> classes = LandCover.labels();
        float[] p = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
        for (int part = 0; part < 2; part++) {
            try (PredictionShardWriter w = new PredictionShardWriter(shards.resolve("part-0000" + part + ".parquet"), classes, Map.of())) {
                for (int i = 0; i < CiCommand.Run.TILES / 2 + (part == 1 ? 1 : 0); i++) {
                    int id = part == 1 && i == CiCommand.Run.TILES / 2 ? 0 : part * (CiCommand.Run.TILES / 2) + i; // tile 0 again
                    w.write(InferenceResult.ok(row(id), new Classification(classes, p)));
                }
            }
        }
        assertThat(CiCommand.Run.checkOutputs(shards)).isEqualTo(CiCommand.Run.TILES + 1 + " rows, not " + CiCommand.Run.TILES);
        Files.delete(shards.resolve("part-00001.parquet"));
        try (PredictionShardWriter w = new PredictionShardWriter(shards.resolve("part-00001.parquet"), classes, Map.of())) {
            for (int i = CiCommand.Run.TILES / 2; i < CiCommand.Run.TILES; i++) {
                w.write(i == CiCommand.Run.TILES - 1 ? InferenceResult.error(row(i), "corrupt JPEG") : InferenceResult.ok(row(i), new Classification(classes, p)));
            }
        }
        assertThat(CiCommand.Run.checkOutputs(shards)).isEqualTo("1 tiles failed");
    }

    static ManifestRow row(int i) {
        org.locationtech.jts.geom.GeometryFactory g = new org.locationtech.jts.geom.GeometryFactory();
        byte[] wkb = new org.locationtech.jts.io.WKBWriter().write(g.toGeometry(new org.locationtech.jts.geom.Envelope(i, i + 1, 0, 1)));
        return new ManifestRow("t" + i, "file:///t" + i + ".jpg", "t" + i + ".jpg", 0, i, new BoundingBox(i, 0, i + 1, 1), wkb,
                Instant.parse("2026-01-01T00:00:00Z"), "water", 0, new float[] {0, 0, 0, 0, 1});
    }
}
