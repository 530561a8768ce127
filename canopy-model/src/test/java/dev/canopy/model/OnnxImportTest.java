package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxImportTest {
    @TempDir
    Path tmp;

    @Test
    void importedOnnxPredictsLikeTheGraphSays() throws Exception {
        int classes = 5, size = 16;
        Path file = tmp.resolve("tiny.onnx");
        Files.write(file, OnnxFixture.model(classes, size));
        Path meta = tmp.resolve("tiny.json");
        Files.writeString(meta, "{\"classes\":[\"native_grass\",\"invasive_weed\",\"shrub\",\"bare_soil\",\"water\"],\"input_size\":16}");
        try (FileObjectStore s = new FileObjectStore(tmp.resolve("reg"))) {
            ModelRegistry r = new ModelRegistry(s, tmp.resolve("cache"), Clock.systemUTC());
            ModelRegistry.Version v = ModelImporter.importModel(r, "onnx-tiny", file, meta);
            assertThat(v.card().format()).isEqualTo("onnx");
            float[] x = new float[2 * 3 * size * size];
            for (int i = 0; i < x.length; i++) x[i] = (float) Math.cos(i * 0.37);
            try (TileClassifier c = r.load("onnx-tiny")) {
                float[] p = c.predict(x, 2);
                float[] w = OnnxFixture.weights(classes), b = OnnxFixture.bias(classes);
                for (int n = 0; n < 2; n++) {
                    double[] mean = new double[3];
                    for (int ch = 0; ch < 3; ch++) {
                        for (int i = 0; i < size * size; i++) mean[ch] += x[n * 3 * size * size + ch * size * size + i];
                        mean[ch] /= size * size;
                    }
                    double[] logits = new double[classes];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int k = 0; k < classes; k++) {
                        logits[k] = b[k];
                        for (int ch = 0; ch < 3; ch++) logits[k] += mean[ch] * w[ch * classes + k];
                        max = Math.max(max, logits[k]);
                    }
                    for (int k = 0; k < classes; k++) sum += Math.exp(logits[k] - max);
                    for (int k = 0; k < classes; k++) assertThat((double) p[n * classes + k]).isCloseTo(Math.exp(logits[k] - max) / sum, within(1e-5));
                }
            }
            // metadata with the wrong class count is refused at import
            Files.writeString(meta, "{\"classes\":[\"a\",\"b\"],\"input_size\":16}");
            assertThatThrownBy(() -> ModelImporter.importModel(r, "onnx-bad", file, meta)).hasMessageContaining("2 classes");
            Path junk = tmp.resolve("junk.onnx");
            Files.write(junk, new byte[] {1, 2, 3, 4});
            Files.writeString(meta, "{\"classes\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"input_size\":16}");
            assertThatThrownBy(() -> ModelImporter.importModel(r, "onnx-junk", junk, meta)).hasMessageContaining("cannot load ONNX model");
        }
    }
}
