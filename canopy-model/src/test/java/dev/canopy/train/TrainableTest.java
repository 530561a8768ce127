package dev.canopy.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.train.Trainable;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelException;
import dev.canopy.model.ModelPackage;
import dev.canopy.model.TileClassifier;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainableTest {
    @TempDir
    static Path shared;
    static Path survey;

    @TempDir
    Path tmp;

    @BeforeAll
    static void survey() {
        survey = TinySurvey.generate(shared.resolve("survey"), 160, 32, 3);
    }

    @Test
    void resumedRunEqualsUninterruptedRun() {
        byte[] uninterrupted;
        Map<String, Double> lastUninterrupted;
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(survey, 2));
            t.step();
            lastUninterrupted = t.step().metrics();
            uninterrupted = t.parameterBytes();
        }
        Path ckpt = tmp.resolve("ckpt");
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(survey, 2));
            t.step();
            t.save(ckpt.toUri());
        } // "killed" after epoch 1
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(survey, 2));
            t.restore(ckpt.toUri());
            assertThat(t.iteration()).isEqualTo(1);
            Trainable.StepResult r = t.step();
            assertThat(r.iteration()).isEqualTo(2);
            assertThat(r.metric("val_accuracy")).isEqualTo(lastUninterrupted.get("val_accuracy"));
            assertThat(r.metric("train_loss")).isEqualTo(lastUninterrupted.get("train_loss"));
            assertThat(t.parameterBytes()).isEqualTo(uninterrupted);
            assertThat(t.history()).hasSize(2);
        }
    }

    @Test
    void reportsMetricsAndPackagesPredictIdentically() throws Exception {
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(survey, 1));
            Trainable.StepResult r = t.step();
            assertThat(r.metrics()).containsKeys("train_loss", "val_loss", "val_accuracy", "val_macro_f1", "val_f1_invasive_weed", "images_per_second");
            assertThat(r.metric("val_accuracy")).isBetween(0.0, 1.0);

            ModelCard card = t.card("weeds");
            assertThat(card.provenance().seed()).isEqualTo(42L);
            assertThat(card.provenance().datasetDigest()).hasSize(64);
            assertThat(card.provenance().parameters()).containsEntry("model", "small-cnn");
            try (FileObjectStore store = new FileObjectStore(tmp.resolve("pkg"))) {
                ModelPackage.write(store, "weeds", card, t.parameterBytes());
                float[] input = new float[4 * 3 * 32 * 32];
                new java.util.Random(1).ints(input.length).forEach(i -> { });
                for (int i = 0; i < input.length; i++) input[i] = (float) Math.sin(i * 0.01);
                float[] inMemory = t.predict(input, 4);
                try (TileClassifier c = ModelPackage.open(store, "weeds").load(tmp.resolve("cache"))) {
                    // the package runs the network with batch norms folded into the convolutions: equal up to float rounding
                    assertThat(c.predict(input, 4)).containsExactly(inMemory, org.assertj.core.data.Offset.offset(1e-5f));
                    assertThat(c.card().classes()).hasSize(5);
                }
            }
        }
    }

    @Test
    void corruptCheckpointIsAClearError() throws Exception {
        Path ckpt = tmp.resolve("ckpt");
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(survey, 1));
            t.step();
            t.save(ckpt.toUri());
        }
        byte[] p = Files.readAllBytes(ckpt.resolve("params.bin"));
        Files.write(ckpt.resolve("params.bin"), java.util.Arrays.copyOf(p, p.length / 2));
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(survey, 1));
            assertThatThrownBy(() -> t.restore(ckpt.toUri())).isInstanceOf(dev.canopy.api.train.TrainingException.class).hasMessageContaining("corrupt");
            assertThatThrownBy(() -> t.restore(tmp.resolve("nothing").toUri())).hasMessageContaining("no checkpoint");
        }
    }

    @Test
    void badInputGetsClearErrors() throws Exception {
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            Map<String, Object> c = TinySurvey.config(survey, 1);
            c.put("model", "vgg99");
            assertThatThrownBy(() -> t.setup(c)).hasMessageContaining("unknown model 'vgg99'");
        }
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            Map<String, Object> c = TinySurvey.config(survey, 1);
            c.put("learning_rat", 0.1);
            assertThatThrownBy(() -> t.setup(c)).hasMessageContaining("unknown training setting 'learning_rat'");
        }
        Path empty = TinySurvey.generate(tmp.resolve("one"), 1, 32, 1);
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            assertThatThrownBy(() -> t.setup(TinySurvey.config(empty, 1))).isInstanceOf(dev.canopy.api.train.TrainingException.class).hasMessageContaining("usable tiles");
        }
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            assertThatThrownBy(() -> t.setup(TinySurvey.config(tmp.resolve("missing"), 1))).hasMessageContaining("no survey manifest");
        }
    }

    @Test
    void corruptTilesAreSkippedAndCounted() throws Exception {
        Path copy = tmp.resolve("damaged");
        TinySurvey.generate(copy, 60, 32, 4);
        Path tile = copy.resolve("tiles/r00000c00001.jpg");
        byte[] b = Files.readAllBytes(tile);
        Files.write(tile, java.util.Arrays.copyOf(b, b.length / 3));
        Files.delete(copy.resolve("tiles/r00001c00001.jpg"));
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(TinySurvey.config(copy, 1));
            Trainable.StepResult r = t.step();
            assertThat(r.metric("skipped_tiles")).isEqualTo(2.0);
            assertThat(t.skippedTiles()).containsKeys("r00000c00001", "r00001c00001");
        }
    }
}
