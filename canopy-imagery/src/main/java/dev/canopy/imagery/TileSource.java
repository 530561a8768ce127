package dev.canopy.imagery;

import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Fetches tile bytes by absolute URI, opening one store per folder and reusing it. Owns the
 * stores it opens (closed with this source); a store passed in is borrowed, not closed.
 */
public final class TileSource implements AutoCloseable {
    private final Map<URI, ObjectStore> opened = new ConcurrentHashMap<>();
    private final ObjectStore borrowed;
    private final S3Settings s3;

    public TileSource(ObjectStore borrowed, S3Settings s3) {
        this.borrowed = borrowed;
        this.s3 = s3;
    }

    /**
     * Benchmark knob: {@code -Dcanopy.bench.fetchLatencyMs=20} delays every fetch's completion, to
     * measure pipelines as if the store were a remote S3 region (10-30 ms first-byte latency) rather
     * than a local disk. Never set in production.
     */
    static final long SIMULATED_LATENCY_MS = Long.getLong("canopy.bench.fetchLatencyMs", 0);

    public CompletableFuture<byte[]> fetch(URI uri) {
        CompletableFuture<byte[]> f = fetchNow(uri);
        if (SIMULATED_LATENCY_MS <= 0) return f;
        java.util.concurrent.Executor later = CompletableFuture.delayedExecutor(SIMULATED_LATENCY_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
        return f.thenApplyAsync(b -> b, later);
    }

    private CompletableFuture<byte[]> fetchNow(URI uri) {
        if (borrowed != null) {
            String key = ObjectStores.relativeKey(borrowed.root(), uri);
            if (key != null) return borrowed.getAsync(key);
        }
        URI parent = ObjectStores.parentOf(uri);
        ObjectStore store = opened.computeIfAbsent(parent, p -> ObjectStores.open(p, s3));
        return store.getAsync(ObjectStores.nameOf(uri));
    }

    @Override
    public void close() {
        opened.values().forEach(ObjectStore::close);
        opened.clear();
    }
}
