package dev.canopy.model;

import dev.canopy.api.Json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.S3ObjectStore;
import dev.canopy.storage.S3Settings;
import dev.canopy.testkit.S3ProxyServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegistryTest {
    @TempDir
    Path tmp;

    static ModelCard card() {
        return new ModelCard("x", ModelCard.FORMAT_DJL, "small-cnn", 32, new float[] {0, 0, 0}, new float[] {1, 1, 1},
                List.of("a", "b"), Map.of("val_accuracy", 0.9), null);
    }

    private void exercise(ObjectStore store) {
        ModelRegistry r = new ModelRegistry(store, tmp.resolve("cache"), Clock.systemUTC());
        List<ModelRegistry.Version> made = IntStream.range(0, 6).mapToObj(i -> CompletableFuture.supplyAsync(() -> r.register("weeds", card(), Architecture.SMALL_CNN.initialWeights(2, 32, i))))
                .collect(Collectors.toList()).stream().map(CompletableFuture::join).collect(Collectors.toList());
        assertThat(made.stream().map(ModelRegistry.Version::version)).containsExactlyInAnyOrder(1, 2, 3, 4, 5, 6);
        assertThat(r.versions("weeds")).hasSize(6);
        assertThat(r.names()).containsExactly("weeds");
        assertThat(r.resolve("weeds").version()).isEqualTo(6); // no production: latest
        r.promote("weeds", 2, "staging");
        r.promote("weeds", 3, "production");
        assertThat(r.resolve("weeds").version()).isEqualTo(3);
        assertThat(r.resolve("weeds@staging").version()).isEqualTo(2);
        assertThat(r.resolve("weeds:5").stage()).isEqualTo("none");
        r.promote("weeds", 2, "production"); // leaves staging, takes production from 3
        assertThat(r.resolve("weeds@production").version()).isEqualTo(2);
        assertThat(r.version("weeds", 3).stage()).isEqualTo("none");
        assertThatThrownBy(() -> r.resolve("weeds@staging")).hasMessageContaining("no version of weeds is in stage staging");
        assertThatThrownBy(() -> r.resolve("nothing")).hasMessageContaining("no model named 'nothing'");
        assertThatThrownBy(() -> r.resolve("weeds:99")).hasMessageContaining("no version 99");
        assertThatThrownBy(() -> r.register("Bad Name", card(), Architecture.SMALL_CNN.initialWeights(2, 32, 1))).hasMessageContaining("invalid model name");
        assertThatThrownBy(() -> r.promote("weeds", 1, "prod")).hasMessageContaining("unknown stage");
        assertThat(r.resolve("weeds:4").card().name()).isEqualTo("weeds");
    }

    @Test
    void fileRegistry() {
        try (FileObjectStore s = new FileObjectStore(tmp.resolve("reg"))) {
            exercise(s);
        }
    }

    @Test
    void s3Registry() throws Exception {
        try (S3ProxyServer server = S3ProxyServer.start(tmp.resolve("s3"))) {
            server.createBucket("models");
            S3Settings st = S3Settings.defaults().withEndpoint(server.endpoint()).withPathStyle(true)
                    .withCredentials(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY);
            try (S3ObjectStore s = new S3ObjectStore(URI.create("s3://models/registry"), st)) {
                exercise(s);
            }
        }
    }

    @Test
    void importsTorchScriptThatPredictsLikePyTorch() throws Exception {
        Path fixtures = Path.of("src/test/resources/fixtures");
        try (FileObjectStore s = new FileObjectStore(tmp.resolve("reg"))) {
            ModelRegistry r = new ModelRegistry(s, tmp.resolve("cache"), Clock.systemUTC());
            ModelRegistry.Version v = ModelImporter.importModel(r, "tiny", fixtures.resolve("tiny-cnn.pt"), fixtures.resolve("tiny-cnn.json"));
            assertThat(v.card().format()).isEqualTo("torchscript");
            float[] input = new float[2 * 3 * 32 * 32];
            for (int i = 0; i < input.length; i++) input[i] = -1f + 2f * i / (input.length - 1);
            var expected = Json.MAPPER.readTree(Files.readAllBytes(fixtures.resolve("tiny-cnn-expected.json"))).get("probabilities");
            try (TileClassifier c = r.load("tiny")) {
                float[] p = c.predict(input, 2);
                assertThat(p).hasSize(expected.size());
                for (int i = 0; i < p.length; i++) assertThat((double) p[i]).isCloseTo(expected.get(i).asDouble(), org.assertj.core.api.Assertions.within(1e-5));
            }
            // wrong class count in the metadata is refused at import
            Path meta = tmp.resolve("bad.json");
            Files.writeString(meta, "{\"classes\":[\"a\",\"b\",\"c\"],\"input_size\":32}");
            assertThatThrownBy(() -> ModelImporter.importModel(r, "tiny", fixtures.resolve("tiny-cnn.pt"), meta))
                    .hasMessageContaining("5").hasMessageContaining("3 classes");
            Files.writeString(meta, "{\"classes\":[\"a\",\"b\"],\"input_size\":32,\"colour\":1}");
            assertThatThrownBy(() -> ModelImporter.importModel(r, "tiny", fixtures.resolve("tiny-cnn.pt"), meta)).hasMessageContaining("unknown key 'colour'");
            Path junk = tmp.resolve("junk.pt");
            Files.write(junk, new byte[] {1, 2, 3});
            assertThatThrownBy(() -> ModelImporter.importModel(r, "junk", junk, fixtures.resolve("tiny-cnn.json"))).hasMessageContaining("cannot load TorchScript");
            assertThat(r.versions("tiny")).hasSize(1);
        }
    }
}
