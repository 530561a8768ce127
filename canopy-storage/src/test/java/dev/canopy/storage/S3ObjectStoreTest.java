package dev.canopy.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.testkit.S3ProxyServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The contract against a real S3 API server (S3Proxy in its own process). */
class S3ObjectStoreTest extends ObjectStoreContract {
    private static final AtomicInteger BUCKETS = new AtomicInteger();
    private static S3ProxyServer server;
    private static Path serverDir;
    private S3ObjectStore store;

    @BeforeAll
    static void startServer() throws Exception {
        serverDir = Files.createTempDirectory("canopy-s3proxy");
        server = S3ProxyServer.start(serverDir);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) server.close();
    }

    static S3Settings settings() {
        return S3Settings.defaults().withEndpoint(server.endpoint()).withPathStyle(true)
                .withCredentials(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY).withMaxConcurrency(16);
    }

    @Override
    ObjectStore store() {
        if (store == null) {
            String bucket = "bucket-" + BUCKETS.incrementAndGet();
            try {
                server.createBucket(bucket);
            } catch (java.io.IOException e) {
                throw new RuntimeException(e);
            }
            // a prefix inside the bucket, so that keys are relative to it as with file://
            store = new S3ObjectStore(URI.create("s3://" + bucket + "/root"), settings());
        }
        return store;
    }

    @AfterEach
    void close() {
        if (store != null) store.close();
    }

    @Test
    void keysAreRelativeToThePrefix() {
        ObjectStore s = store();
        s.put("k", new byte[1]);
        assertThat(s.uri("k").toString()).endsWith("/root/k").startsWith("s3://bucket-");
        assertThat(s.listAll("").map(ObjectInfo::key)).containsExactly("k");
    }

    @Test
    void wrongCredentialsAreAccessDenied() {
        store(); // creates the bucket
        String bucket = store.root().getHost();
        try (S3ObjectStore bad = new S3ObjectStore(URI.create("s3://" + bucket), settings().withCredentials("nobody", "wrong").withMaxAttempts(1))) {
            assertThatThrownBy(() -> bad.get("k")).isInstanceOf(StorageException.AccessDenied.class);
        }
    }

    @Test
    void unreachableEndpointIsTransientAfterRetries() throws Exception {
        int deadPort = S3ProxyServer.FreePort.find();
        S3Settings dead = settings().withEndpoint(URI.create("http://127.0.0.1:" + deadPort)).withMaxAttempts(2);
        try (S3ObjectStore s = new S3ObjectStore(URI.create("s3://nowhere"), dead)) {
            assertThatThrownBy(() -> s.get("k")).isInstanceOf(StorageException.Transient.class);
        }
    }
}
