package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.train.TileClassifierTrainable;
import dev.canopy.train.TinySurvey;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The exported ONNX model computes what the DJL block computes: probabilities within 1e-4 on the same inputs. */
class OnnxExportTest {
    static final double TOLERANCE = 1e-4;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource({"small-cnn, 64", "resnet18, 224"})
    void exportedModelMatchesDjlWithEvalModeBatchNorm(String id, int size) {
        Architecture arch = Architecture.of(id);
        ModelCard card = card(arch, size);
        byte[] params = perturbedWeights(arch, card.classes().size(), size, 7);
        float[] images = gaussian(4 * 3 * size * size, 11);
        // the reference runs the network as trained, batch norms as DJL operators: independent of the folding both engines use
        try (TileClassifier asTrained = BlockClassifier.unfolded(card, params); TileClassifier folded = new BlockClassifier(card, params);
             TileClassifier onnx = new OnnxClassifier(card, OnnxExport.export(card, params))) {
            float[] expected = asTrained.predict(images, 4);
            assertClose(onnx.predict(images, 4), expected);
            assertClose(folded.predict(images, 4), expected);
            assertClose(onnx.predict(images, 1), asTrained.predict(java.util.Arrays.copyOf(images, 3 * size * size), 1));
        }
    }

    /** Weights from a real epoch of training: batch-norm statistics and scales as training left them, not drawn. */
    @ParameterizedTest
    @CsvSource({"small-cnn", "resnet18"})
    void exportedTrainedModelMatchesDjlOnSurveyTiles(String model) throws Exception {
        Path survey = TinySurvey.generate(tmp.resolve("survey"), 120, 32, 5);
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            Map<String, Object> config = TinySurvey.config(survey, 1);
            config.put("model", model);
            t.setup(config);
            t.step();
            ModelCard card = t.card("weeds");
            assertThat(card.architecture()).isEqualTo(model);
            assertThat(batchNormsMovedFromTheirStart(Architecture.of(model), card, t.parameterBytes())).as("training moved every batch norm").isTrue();
            assertThat(batchNormsMovedFromTheirStart(Architecture.of(model), card, Architecture.of(model).initialWeights(card.classes().size(), card.inputSize(), 1)))
                    .as("untrained weights fail the same check").isFalse();
            ImageDecoder decoder = new ImageDecoder(card.inputSize(), card.mean(), card.std());
            List<Path> tiles;
            try (Stream<Path> s = Files.walk(survey)) {
                tiles = s.filter(p -> p.toString().endsWith(".jpg")).sorted().limit(16).toList();
            }
            assertThat(tiles).hasSize(16);
            int per = 3 * card.inputSize() * card.inputSize();
            float[] batch = new float[tiles.size() * per];
            for (int i = 0; i < tiles.size(); i++) System.arraycopy(decoder.decode(Files.readAllBytes(tiles.get(i)), tiles.get(i).toString()), 0, batch, i * per, per);
            try (TileClassifier onnx = new OnnxClassifier(card, OnnxExport.export(card, t.parameterBytes()))) {
                float[] expected = t.predict(batch, tiles.size());
                float[] actual = onnx.predict(batch, tiles.size());
                assertClose(actual, expected);
            }
        }
    }

    @Test
    void weightsOfAnotherArchitectureAreAClearError() {
        ModelCard card = card(Architecture.SMALL_CNN, 32);
        byte[] resnet = Architecture.RESNET18.initialWeights(card.classes().size(), 32, 1);
        assertThatThrownBy(() -> OnnxExport.export(card, resnet)).isInstanceOf(ModelException.class)
                .hasMessageContaining("cannot read the weights").extracting(e -> ((ModelException) e).code()).isEqualTo("model.corrupt_weights");
    }

    @Test
    void weightsForAnotherClassCountAreRefusedBeforeAnythingIsStored() {
        ModelCard card = card(Architecture.SMALL_CNN, 32); // 5 classes
        byte[] sevenClasses = Architecture.SMALL_CNN.initialWeights(7, 32, 1);
        assertThatThrownBy(() -> OnnxExport.export(card, sevenClasses)).isInstanceOf(ModelException.class)
                .hasMessageContaining("do not fit small-cnn with 5 classes").extracting(e -> ((ModelException) e).code()).isEqualTo("model.corrupt_weights");
        try (dev.canopy.storage.FileObjectStore store = new dev.canopy.storage.FileObjectStore(tmp.resolve("reg"))) {
            ModelRegistry r = new ModelRegistry(store, tmp.resolve("cache"), java.time.Clock.systemUTC());
            assertThatThrownBy(() -> r.register("weeds", card, sevenClasses)).isInstanceOf(ModelException.class);
            try (var keys = store.listAll("models/weeds/")) {
                assertThat(keys.map(dev.canopy.storage.ObjectInfo::key).filter(k -> !k.endsWith("/.claim")).toList()).isEmpty();
            }
        }
    }

    static ModelCard card(Architecture arch, int size) {
        return new ModelCard("x-" + arch.id(), ModelCard.FORMAT_DJL, arch.id(), size, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
    }

    /** Seeded weights whose batch norms are far from the identity, as after training. */
    static byte[] perturbedWeights(Architecture arch, int classes, int size, int seed) {
        Engines.pytorch().setRandomSeed(seed);
        SplittableRandom r = new SplittableRandom(seed);
        try (NDManager m = Engines.newManager()) {
            Block b = arch.build(classes);
            b.initialize(m, DataType.FLOAT32, new Shape(1, 3, size, size));
            for (Pair<String, Parameter> p : b.getParameters()) {
                NDArray a = p.getValue().getArray();
                String n = p.getKey();
                float[] v = a.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    if (n.endsWith("_runningMean") || n.endsWith("_beta")) v[i] = (float) (0.2 * r.nextGaussian());
                    else if (n.endsWith("_runningVar") || n.endsWith("_gamma")) v[i] = (float) (0.5 + r.nextDouble());
                }
                a.set(v);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (DataOutputStream d = new DataOutputStream(out)) {
                b.saveParameters(d);
            }
            return out.toByteArray();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** True when every batch norm's running mean and variance moved from the 0 / 1 they start at (in at least one channel). */
    static boolean batchNormsMovedFromTheirStart(Architecture arch, ModelCard card, byte[] params) {
        try (NDManager m = Engines.newManager()) {
            Block b = arch.build(card.classes().size());
            b.initialize(m, DataType.FLOAT32, new Shape(1, 3, card.inputSize(), card.inputSize()));
            b.loadParameters(m, new java.io.DataInputStream(new java.io.ByteArrayInputStream(params)));
            for (Pair<String, Parameter> p : b.getParameters()) {
                String n = p.getKey();
                float start = n.endsWith("_runningMean") ? 0f : n.endsWith("_runningVar") ? 1f : Float.NaN;
                if (Float.isNaN(start)) continue;
                boolean moved = false;
                for (float v : p.getValue().getArray().toFloatArray()) moved |= Math.abs(v - start) > 1e-3;
                if (!moved) return false;
            }
            return true;
        } catch (java.io.IOException | ai.djl.MalformedModelException e) {
            throw new IllegalStateException(e);
        }
    }

    static float[] gaussian(int n, int seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static void assertClose(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double worst = 0;
        for (int i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        assertThat(worst).as("largest probability difference").isLessThanOrEqualTo(TOLERANCE);
    }
}
