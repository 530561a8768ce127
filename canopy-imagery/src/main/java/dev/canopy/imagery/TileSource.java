package dev.canopy.imagery;

import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.StorageException;
import java.net.URI;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fetches tile bytes by absolute URI. It opens one store per S3 bucket and one for the local file
 * system (never one per folder), keeps at most {@link #MAX_STORES} of them (least recently used
 * goes, closed once its last fetch completes), and closes them with this source. A store passed in
 * is borrowed, used for URIs under its root, and not closed.
 *
 * <p>This class does not decide which URIs may be read: callers that fetch on someone else's behalf
 * check a {@link dev.canopy.storage.UriPolicy} first and use {@link #fetch(URI, long)}, which also
 * refuses non-regular files and objects above a size cap.
 */
public final class TileSource implements AutoCloseable {
    public static final int MAX_STORES = 32;

    /** A store and the fetches using it, so that an evicted store is closed only when idle. */
    private static final class Entry {
        final ObjectStore store;
        final AtomicInteger users = new AtomicInteger();
        final AtomicBoolean closed = new AtomicBoolean();
        volatile boolean evicted;

        Entry(ObjectStore store) {
            this.store = store;
        }

        void release() {
            if (users.decrementAndGet() == 0 && evicted) closeOnce();
        }

        void closeOnce() {
            if (!closed.compareAndSet(false, true)) return;
            // closing an S3 client waits for its event loop: never on the thread that completes a fetch
            Thread t = new Thread(store::close, "canopy-store-close");
            t.setDaemon(true);
            t.start();
        }
    }

    private final Map<String, Entry> opened = new LinkedHashMap<>(16, 0.75f, true);
    private boolean sourceClosed;
    private final ObjectStore borrowed;
    private final S3Settings s3;

    public TileSource(ObjectStore borrowed, S3Settings s3) {
        this.borrowed = borrowed;
        this.s3 = s3;
    }

    /**
     * Benchmark knob: {@code -Dcanopy.bench.fetchLatencyMs=20} delays every fetch's completion, to
     * measure pipelines as if the store were a remote S3 region (10-30 ms first-byte latency) rather
     * than a local disk. As a real S3 client, at most {@code canopy.bench.fetchMaxConcurrency} (default 50,
     * the AWS SDK's default connection pool) requests are in flight per JVM; the rest queue without
     * blocking the caller. Never set in production.
     */
    static final long SIMULATED_LATENCY_MS = Long.getLong("canopy.bench.fetchLatencyMs", 0);
    static final RemoteLatency REMOTE = SIMULATED_LATENCY_MS > 0
            ? new RemoteLatency(SIMULATED_LATENCY_MS, Math.max(1, Integer.getInteger("canopy.bench.fetchMaxConcurrency", 50))) : null;

    /** Fetches a URI the caller trusts (its own survey), whatever its size. */
    public CompletableFuture<byte[]> fetch(URI uri) {
        return REMOTE == null ? fetchNow(uri, -1) : REMOTE.submit(() -> fetchNow(uri, -1));
    }

    /** Fetches a regular file or object of at most {@code maxBytes}; anything else fails without being read. */
    public CompletableFuture<byte[]> fetch(URI uri, long maxBytes) {
        if (maxBytes < 0) throw new IllegalArgumentException("maxBytes must be >= 0");
        return REMOTE == null ? fetchNow(uri, maxBytes) : REMOTE.submit(() -> fetchNow(uri, maxBytes));
    }

    private CompletableFuture<byte[]> fetchNow(URI uri, long maxBytes) {
        if (borrowed != null) {
            String key = ObjectStores.relativeKey(borrowed.root(), uri);
            if (key != null) return maxBytes < 0 ? borrowed.getAsync(key) : borrowed.getAsync(key, maxBytes);
        }
        String scheme = uri.getScheme();
        String rootKey;
        String key;
        if ("s3".equals(scheme)) {
            if (uri.getHost() == null) throw new StorageException("storage.bad_location", "s3 URI without a bucket: " + uri, "write s3://BUCKET/key", null);
            rootKey = "s3://" + uri.getHost();
            String path = uri.getPath() == null ? "" : uri.getPath();
            key = path.startsWith("/") ? path.substring(1) : path;
        } else if ("file".equals(scheme)) {
            rootKey = "file:///";
            String p = Path.of(uri).toAbsolutePath().normalize().toString();
            key = p.startsWith("/") ? p.substring(1) : p;
        } else {
            throw new StorageException("storage.unsupported_scheme", "unsupported scheme in " + uri, "use file:// or s3:// URIs", null);
        }
        Entry e = acquire(rootKey);
        try {
            CompletableFuture<byte[]> f = maxBytes < 0 ? e.store.getAsync(key) : e.store.getAsync(key, maxBytes);
            return f.whenComplete((b, err) -> e.release());
        } catch (RuntimeException ex) {
            e.release();
            throw ex;
        }
    }

    private synchronized Entry acquire(String rootKey) {
        if (sourceClosed) throw new IllegalStateException("tile source is closed");
        Entry e = opened.get(rootKey);
        if (e == null) {
            ObjectStore store = rootKey.startsWith("file:") ? new FileObjectStore(Path.of("/")) : ObjectStores.open(URI.create(rootKey), s3);
            e = new Entry(store);
            opened.put(rootKey, e);
            Iterator<Entry> it = opened.values().iterator();
            while (opened.size() > MAX_STORES) {
                Entry old = it.next();
                it.remove();
                old.evicted = true;
                if (old.users.get() == 0) old.closeOnce();
            }
        }
        e.users.incrementAndGet(); // under the lock: an eviction now sees this user and leaves the store open
        return e;
    }

    /** Stores open now (at most {@link #MAX_STORES}). */
    public synchronized int openStores() {
        return opened.size();
    }

    @Override
    public synchronized void close() {
        sourceClosed = true;
        opened.values().forEach(Entry::closeOnce);
        opened.clear();
    }
}
