package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.ProgressListener;
import dev.canopy.storage.S3ObjectStore;
import dev.canopy.storage.S3Settings;
import dev.canopy.testkit.S3ProxyServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A survey generated straight into a real S3 server, then read back from it. */
class S3SurveyTest {
    @TempDir
    Path tmp;

    @Test
    void generateIntoS3AndReadTheManifestBack() throws Exception {
        try (S3ProxyServer server = S3ProxyServer.start(tmp.resolve("s3"))) {
            server.createBucket("surveys");
            S3Settings settings = S3Settings.defaults().withEndpoint(server.endpoint()).withPathStyle(true)
                    .withCredentials(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY);
            try (S3ObjectStore store = new S3ObjectStore(URI.create("s3://surveys/site-a"), settings);
                 SurveyGenerator g = new SurveyGenerator(2)) {
                g.generate(SurveySpec.of(30, 64, 9), store, ProgressListener.NONE);
                Manifest m = Manifest.open(store);
                List<ManifestRow> rows;
                try (var s = m.rows()) {
                    rows = s.collect(Collectors.toList());
                }
                assertThat(rows).hasSize(30);
                assertThat(rows.get(0).uri()).startsWith("s3://surveys/site-a/tiles/");
                ImageDecoder d = new ImageDecoder(64, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD);
                assertThat(d.decode(store.get(rows.get(5).key()), rows.get(5).uri())).hasSize(3 * 64 * 64);
            }
        }
    }
}
