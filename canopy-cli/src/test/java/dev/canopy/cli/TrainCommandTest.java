package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
    @TempDir
    static Path shared;
    static Path survey;

    @TempDir
    Path tmp;

    @BeforeAll
    static void survey() {
        survey = shared.resolve("survey");
        MainTest.Result r = MainTest.run("--no-progress", "survey", "generate", "--out", survey.toString(), "--tiles", "120", "--tile-size", "32");
        assertThat(r.code()).as(r.err()).isZero();
    }

    private MainTest.Result cli(String... args) {
        return MainTest.runIn(tmp.resolve("home"), args);
    }

    @Test
    void trainResumeRegisterPromote() throws Exception {
        Path run = tmp.resolve("run");
        MainTest.Result r = cli("train", "--survey", survey.toString(), "--input-size", "32", "--batch-size", "16", "--epochs", "2",
                "--run", run.toString(), "--name", "weeds");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("epoch 1/2", "epoch 2/2", "val_acc", "registered weeds:1");
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(2);
        assertThat(Files.readString(run.resolve("status.json"))).contains("finished");
        assertThat(run.resolve("checkpoints/epoch-0002/state.json")).exists();
        assertThat(cli("status", run.toString()).out()).contains("training run").contains("finished at epoch 2 of 2");

        // a finished run resumed does no more epochs; starting over in the same folder is refused
        MainTest.Result again = cli("train", "--resume", run.toString(), "--no-register");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("resuming").doesNotContain("epoch 1/2");
        MainTest.Result clash = cli("train", "--survey", survey.toString(), "--run", run.toString());
        assertThat(clash.code()).isEqualTo(1);
        assertThat(clash.err()).contains("already exists").contains("--resume");

        assertThat(cli("model", "list").out()).contains("weeds");
        assertThat(cli("model", "promote", "weeds:1", "production").out()).contains("weeds:1 is now in stage production");
        MainTest.Result show = cli("model", "show", "weeds");
        assertThat(show.out()).contains("production").contains("small-cnn");
        assertThat(cli("model", "show", "weeds@production").out()).contains("\"seed\" : 42", "datasetDigest", "canopy train");
    }

    /** {@code --workers 2}: two barrier tasks on this machine's Spark, one ring; the provenance says how it was trained. */
    @Test
    void trainsOnTwoDataParallelWorkers() throws Exception {
        Path run = tmp.resolve("run2");
        MainTest.Result r = cli("train", "--survey", survey.toString(), "--input-size", "32", "--batch-size", "16", "--epochs", "2",
                "--workers", "2", "--run", run.toString(), "--name", "weeds2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("2 tasks in a barrier stage", "global batch 16", "epoch 1/2 done", "epoch 2/2 done",
                "trained small-cnn for 2 epochs on 2 ranks", "registered weeds2:1");
        assertThat(Files.readAllLines(run.resolve("metrics.jsonl"))).hasSize(2).allSatisfy(l -> assertThat(l).contains("allreduce_bytes", "val_accuracy"));
        assertThat(Files.readString(run.resolve("config.json"))).contains("\"workers\" : 2");
        assertThat(cli("model", "show", "weeds2:1").out()).contains("\"workers\" : 2", "\"global_batch\" : 16", "tcp-ring",
                "\"jpeg_decoder\" : \"" + dev.canopy.imagery.ImageDecoder.JpegMethod.preferred().id() + "\"");

        MainTest.Result other = cli("train", "--resume", run.toString(), "--workers", "3");
        assertThat(other.code()).isEqualTo(2);
        assertThat(other.err()).contains("started with --workers 2");
        MainTest.Result tooMany = cli("train", "--survey", survey.toString(), "--batch-size", "4", "--workers", "8", "--run", tmp.resolve("x").toString());
        assertThat(tooMany.code()).isEqualTo(2);
        assertThat(tooMany.err()).contains("workers=8", "at most batch_size (4)");
    }

    @Test
    void badInputIsNamed() {
        assertThat(cli("train", "--survey", survey.toString(), "--model", "vgg").err()).contains("unknown model 'vgg'");
        assertThat(cli("train", "--survey", survey.toString(), "--model", "vgg").code()).isEqualTo(2);
        assertThat(cli("train").err()).contains("--survey is required");
        assertThat(cli("train", "--survey", tmp.resolve("none").toString()).err()).contains("no survey manifest");
        assertThat(cli("model", "show", "ghost").err()).contains("no model named 'ghost'");
        assertThat(cli("model", "promote", "ghost", "production").code()).isEqualTo(2);
    }

    @Test
    void importTorchScript() {
        Path fixtures = Path.of("../canopy-model/src/test/resources/fixtures");
        MainTest.Result r = cli("model", "import", "--name", "tiny", "--file", fixtures.resolve("tiny-cnn.pt").toString(),
                "--metadata", fixtures.resolve("tiny-cnn.json").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("tiny:1", "torchscript", "5 classes");
        assertThat(cli("model", "import", "--name", "tiny", "--file", "nothing.pt", "--metadata", "x.json").err()).contains("not found");
    }
}
