package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineChoiceTest {
    @TempDir
    Path tmp;

    @Test
    void registeredPackagesCarryAnOnnxGraphAndBothEnginesAgree() {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("reg"))) {
            ModelRegistry r = new ModelRegistry(store, tmp.resolve("cache"), Clock.systemUTC());
            ModelCard card = OnnxExportTest.card(Architecture.SMALL_CNN, 32);
            ModelRegistry.Version v = r.register("weeds", card, OnnxExportTest.perturbedWeights(Architecture.SMALL_CNN, 5, 32, 3));
            String prefix = r.packagePrefix(v);
            assertThat(store.exists(prefix + "/" + ModelPackage.EXPORTED_ONNX)).isTrue();
            float[] x = OnnxExportTest.gaussian(3 * 3 * 32 * 32, 5);
            float[] viaTorch;
            try (TileClassifier c = r.openPackage(v).load(null, InferenceEngine.PYTORCH)) {
                assertThat(c).isInstanceOf(BlockClassifier.class);
                viaTorch = c.predict(x, 3);
            }
            try (TileClassifier c = r.openPackage(v).load(null, InferenceEngine.ONNX)) {
                assertThat(c).isInstanceOf(OnnxClassifier.class);
                OnnxExportTest.assertClose(c.predict(x, 3), viaTorch);
            }
            // a package registered before Canopy exported graphs gets one made from its weights
            store.delete(prefix + "/" + ModelPackage.EXPORTED_ONNX);
            try (TileClassifier c = r.openPackage(v).load(null, InferenceEngine.ONNX)) {
                OnnxExportTest.assertClose(c.predict(x, 3), viaTorch);
            }
        }
    }

    @Test
    void autoMeasuresOncePerHostAndModelKindThenRemembers() throws Exception {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("reg"))) {
            ModelRegistry r = new ModelRegistry(store, tmp.resolve("cache"), Clock.systemUTC());
            ModelCard card = OnnxExportTest.card(Architecture.SMALL_CNN, 32);
            ModelRegistry.Version v1 = r.register("weeds", card, Architecture.SMALL_CNN.initialWeights(5, 32, 1));
            ModelRegistry.Version v2 = r.register("weeds", card, Architecture.SMALL_CNN.initialWeights(5, 32, 2));
            EngineChoice choice = new EngineChoice(tmp.resolve("engines"), Clock.systemUTC());
            List<String> said = new ArrayList<>();
            InferenceEngine first = choice.resolve(r.openPackage(v1), InferenceEngine.AUTO, said::add);
            assertThat(first).isIn(InferenceEngine.PYTORCH, InferenceEngine.ONNX);
            assertThat(said).anyMatch(s -> s.contains("measuring"));
            EngineChoice.Measured m = choice.read().get(EngineChoice.key(card));
            assertThat(EngineChoice.key(card)).startsWith("djl:small-cnn@32/5 on ");
            assertThat(m.pytorchImagesPerSecond()).isPositive();
            assertThat(m.onnxImagesPerSecond()).isPositive();
            assertThat(m.engine()).isEqualTo(m.onnxImagesPerSecond() > m.pytorchImagesPerSecond() ? "onnx" : "pytorch");
            try (var files = Files.list(tmp.resolve("engines"))) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(EngineChoice.host() + ".json",
                        EngineChoice.host() + ".json.lock");
            }

            said.clear(); // another version of the same kind of model: no new measurement
            assertThat(new EngineChoice(tmp.resolve("engines"), Clock.systemUTC()).resolve(r.openPackage(v2), InferenceEngine.AUTO, said::add)).isEqualTo(first);
            assertThat(said).isEmpty();
            // an explicit choice wins over the record
            assertThat(choice.resolve(r.openPackage(v2), InferenceEngine.PYTORCH, said::add)).isEqualTo(InferenceEngine.PYTORCH);
            // a damaged record is measured again and rewritten, never an error
            Files.writeString(tmp.resolve("engines").resolve(EngineChoice.host() + ".json"), "{not json");
            said.clear();
            assertThat(choice.resolve(r.openPackage(v2), InferenceEngine.AUTO, said::add)).isIn(InferenceEngine.PYTORCH, InferenceEngine.ONNX);
            assertThat(said).anyMatch(s -> s.contains("measuring"));
            assertThat(choice.read()).containsKey(EngineChoice.key(card));
        }
    }

    @Test
    void enginesThatCannotRunAFormatAreRefusedClearly() throws Exception {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("reg"))) {
            ModelRegistry r = new ModelRegistry(store, tmp.resolve("cache"), Clock.systemUTC());
            Path onnxFile = tmp.resolve("tiny.onnx");
            Files.write(onnxFile, OnnxFixture.model(5, 16));
            Path meta = tmp.resolve("tiny.json");
            Files.writeString(meta, "{\"classes\": [\"a\", \"b\", \"c\", \"d\", \"e\"], \"input_size\": 16}");
            ModelRegistry.Version v = ModelImporter.importModel(r, "tiny", onnxFile, meta);
            EngineChoice choice = new EngineChoice(tmp.resolve("engines"), Clock.systemUTC());
            assertThat(choice.resolve(r.openPackage(v), InferenceEngine.AUTO, s -> { })).isEqualTo(InferenceEngine.ONNX);
            assertThatThrownBy(() -> choice.resolve(r.openPackage(v), InferenceEngine.PYTORCH, s -> { }))
                    .isInstanceOf(ModelException.class).hasMessageContaining("onnx package; the pytorch engine cannot run it")
                    .extracting(e -> ((ModelException) e).code()).isEqualTo("model.engine_unsupported");
            assertThat(Files.exists(tmp.resolve("engines"))).isFalse(); // nothing to measure
        }
        assertThatThrownBy(() -> InferenceEngine.of("tpu")).hasMessageContaining("unknown inference engine 'tpu'")
                .extracting(e -> ((ModelException) e).fix()).asString().contains("[auto, pytorch, onnx]");
        assertThat(InferenceEngine.of(" ONNX ")).isEqualTo(InferenceEngine.ONNX);
    }
}
