package dev.canopy.batch;

import dev.canopy.imagery.TileSource;
import dev.canopy.model.Classification;
import dev.canopy.model.Lease;
import dev.canopy.model.ModelPackage;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every task of one JVM (a Spark executor, or the driver in local mode) shares: one
 * {@link PredictorPool} per model, one decode pool, one tile source. Pools are kept between tasks and
 * jobs so that later work finds the model loaded, but at most {@link #MAX_MODELS} of them (least
 * recently used goes) and none idle longer than {@link #IDLE_TIMEOUT}; a pool leaves only when no
 * task holds it ({@link Lease}), so eviction never fails a running task.
 */
public final class ExecutorResources {
    public static final int MAX_MODELS = Integer.getInteger("canopy.executor.maxModels", 2);
    public static final Duration IDLE_TIMEOUT = Duration.ofSeconds(Long.getLong("canopy.executor.modelIdleSeconds", 600));

    private static final Map<String, Lease<PredictorPool<float[], Classification>>> POOLS = new LinkedHashMap<>(8, 0.75f, true);
    private static final Map<Integer, ExecutorService> DECODERS = new ConcurrentHashMap<>();
    private static final Map<S3Settings, TileSource> SOURCES = new ConcurrentHashMap<>();

    private ExecutorResources() { }

    /** A held pool: use {@link #pool()}, then close to let the cache evict it. */
    public record Held(Lease<PredictorPool<float[], Classification>> lease) implements AutoCloseable {
        public PredictorPool<float[], Classification> pool() {
            return lease.resource();
        }

        @Override
        public void close() {
            lease.release();
        }
    }

    public static Held pool(InferenceJobSpec job) {
        String key = job.modelRoot() + "|" + job.modelPrefix() + "|" + job.replicas() + "|" + job.maxBatch() + "|" + job.maxWaitMicros() + "|" + job.engine();
        while (true) {
            Lease<PredictorPool<float[], Classification>> lease;
            List<Lease<PredictorPool<float[], Classification>>> leaving = new ArrayList<>();
            synchronized (POOLS) {
                evictIdle(leaving);
                lease = POOLS.get(key);
                if (lease == null || lease.isRetired()) {
                    lease = new Lease<>(load(job)); // loading under the lock: tasks of one executor want the same model
                    POOLS.put(key, lease);
                    List<String> keys = new ArrayList<>(POOLS.keySet());
                    for (int i = 0; POOLS.size() > MAX_MODELS && i < keys.size(); i++) {
                        if (!keys.get(i).equals(key)) leaving.add(POOLS.remove(keys.get(i)));
                    }
                }
            }
            leaving.forEach(Lease::retire); // closing a pool waits for its replicas: not under the lock
            if (lease.acquire()) return new Held(lease);
        }
    }

    private static void evictIdle(List<Lease<PredictorPool<float[], Classification>>> leaving) {
        long now = System.nanoTime();
        for (Iterator<Lease<PredictorPool<float[], Classification>>> it = POOLS.values().iterator(); it.hasNext(); ) {
            Lease<PredictorPool<float[], Classification>> l = it.next();
            if (l.users() == 0 && now - l.lastUsedNanos() > IDLE_TIMEOUT.toNanos()) {
                it.remove();
                leaving.add(l);
            }
        }
    }

    private static PredictorPool<float[], Classification> load(InferenceJobSpec job) {
        ObjectStore store = ObjectStores.open(URI.create(job.modelRoot()), S3Settings.fromEnvironment());
        try {
            ModelPackage pkg = ModelPackage.open(store, job.modelPrefix());
            Path cache = Files.createTempDirectory("canopy-model-cache");
            try {
                return PredictorPool.classifier(() -> job.engine() == null ? pkg.load(cache) : pkg.load(cache, dev.canopy.model.InferenceEngine.of(job.engine()))).withReplicas(job.replicas()).withMaxBatch(job.maxBatch())
                        .withMaxWait(job.maxWaitMicros()).withQueueCapacity(Math.max(64, job.maxBatch() * job.replicas() * 4)).build();
            } finally {
                dev.canopy.storage.LocalFiles.deleteQuietly(cache); // every replica has read its weights into memory
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            store.close();
        }
    }

    /** Models loaded in this JVM now. */
    public static int loadedModels() {
        synchronized (POOLS) {
            return POOLS.size();
        }
    }

    public static ExecutorService decoders(int threads) {
        return DECODERS.computeIfAbsent(threads, t -> {
            AtomicInteger n = new AtomicInteger();
            return Executors.newFixedThreadPool(t, r -> {
                Thread th = new Thread(r, "canopy-decode-" + n.incrementAndGet());
                th.setDaemon(true);
                return th;
            });
        });
    }

    /**
     * The tile source for these S3 settings (one per distinct settings: a JVM whose settings change,
     * as in tests, never reads with stale ones).
     */
    public static TileSource source(S3Settings s3) {
        return SOURCES.computeIfAbsent(s3, k -> new TileSource(null, k));
    }

    /** The tile source for the settings of the environment now. */
    public static TileSource source() {
        return source(S3Settings.fromEnvironment());
    }

    /** Releases everything; later calls build afresh. For tests and benchmarks that switch models. */
    public static void reset() {
        synchronized (POOLS) {
            POOLS.values().forEach(Lease::retire);
            POOLS.clear();
        }
        DECODERS.values().forEach(ExecutorService::shutdownNow);
        DECODERS.clear();
        SOURCES.values().forEach(TileSource::close);
        SOURCES.clear();
    }
}
