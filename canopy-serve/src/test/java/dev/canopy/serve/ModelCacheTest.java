package dev.canopy.serve;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ListPage;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading is per name and outside the cache's lock: a slow model never stalls another. */
class ModelCacheTest {
    @TempDir
    Path tmp;

    /** A file store whose weight reads for one model wait until the test lets them go. */
    static final class GatedStore implements ObjectStore {
        final FileObjectStore inner;
        final String gatedPrefix;
        final CountDownLatch gate = new CountDownLatch(1);
        final AtomicInteger gatedReads = new AtomicInteger();

        GatedStore(FileObjectStore inner, String gatedPrefix) {
            this.inner = inner;
            this.gatedPrefix = gatedPrefix;
        }

        @Override public URI root() { return inner.root(); }
        @Override
        public byte[] get(String key) {
            if (key.startsWith(gatedPrefix) && key.endsWith(".params")) { // the weights: what a load reads, not a lookup
                gatedReads.incrementAndGet();
                try {
                    if (!gate.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("gate never opened");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            return inner.get(key);
        }
        @Override public CompletableFuture<byte[]> getAsync(String key) { return inner.getAsync(key); }
        @Override public CompletableFuture<byte[]> getAsync(String key, long max) { return inner.getAsync(key, max); }

        @Override public InputStream openStream(String key, long offset, long length) { return inner.openStream(key, offset, length); }

        @Override public void put(String key, byte[] data) { inner.put(key, data); }
        @Override public void put(String key, Path file) { inner.put(key, file); }
        @Override public boolean putIfAbsent(String key, byte[] data) { return inner.putIfAbsent(key, data); }
        @Override public Optional<ObjectInfo> stat(String key) { return inner.stat(key); }
        @Override public void delete(String key) { inner.delete(key); }
        @Override public ListPage list(String prefix, String token, int maxKeys) { return inner.list(prefix, token, maxKeys); }
        @Override public void close() { inner.close(); }
    }

    static ModelCard card(String name) {
        return new ModelCard(name, ModelCard.FORMAT_DJL, Architecture.SMALL_CNN.id(), 32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
    }

    @Test
    void aSlowLoadDoesNotStallOtherModelsAndConcurrentRequestsShareOneLoad() throws Exception {
        GatedStore store = new GatedStore(new FileObjectStore(tmp.resolve("registry")), "models/slow/");
        ModelRegistry registry = new ModelRegistry(store, tmp.resolve("cache"), Clock.systemUTC());
        registry.register("slow", card("slow"), Architecture.SMALL_CNN.initialWeights(5, 32, 1));
        registry.register("fast", card("fast"), Architecture.SMALL_CNN.initialWeights(5, 32, 2));
        try (ModelCache cache = new ModelCache(registry, ServeSettings.defaults(), Clock.systemUTC(), new SimpleMeterRegistry())) {
            CompletableFuture<ModelCache.Served> slow1 = CompletableFuture.supplyAsync(() -> cache.acquire("slow"));
            CompletableFuture<ModelCache.Served> slow2 = CompletableFuture.supplyAsync(() -> cache.acquire("slow"));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> store.gatedReads.get() >= 1);
            // the slow model is mid-load, holding nothing the fast one needs
            ModelCache.Served fast = CompletableFuture.supplyAsync(() -> cache.acquire("fast")).get(30, TimeUnit.SECONDS);
            assertThat(fast.version().name()).isEqualTo("fast");
            fast.close();
            assertThat(slow1).isNotDone();
            assertThat(slow2).isNotDone();
            store.gate.countDown();
            ModelCache.Served a = slow1.get(30, TimeUnit.SECONDS), b = slow2.get(30, TimeUnit.SECONDS);
            assertThat(a).isSameAs(b); // one load, shared
            assertThat(store.gatedReads.get()).isEqualTo(1);
            a.close();
            b.close();
        }
    }
}
