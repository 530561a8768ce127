package dev.canopy.batch;

import dev.canopy.model.ModelPackage;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.imagery.TileSource;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every task of one JVM (a Spark executor, or the driver in local mode) shares: one
 * {@link PredictorPool} per model, one decode pool, one tile source. Built on first use, kept for
 * the life of the JVM so that later tasks and jobs find the model already loaded.
 */
public final class ExecutorResources {
    private static final Map<String, PredictorPool> POOLS = new ConcurrentHashMap<>();
    private static final Map<Integer, ExecutorService> DECODERS = new ConcurrentHashMap<>();
    private static volatile TileSource source;

    private ExecutorResources() { }

    public static PredictorPool pool(InferenceJobSpec job) {
        String key = job.modelRoot() + "|" + job.modelPrefix() + "|" + job.replicas() + "|" + job.maxBatch() + "|" + job.maxWaitMicros();
        return POOLS.computeIfAbsent(key, k -> {
            ObjectStore store = ObjectStores.open(URI.create(job.modelRoot()), S3Settings.fromEnvironment());
            ModelPackage pkg = ModelPackage.open(store, job.modelPrefix());
            Path cache;
            try {
                cache = Files.createTempDirectory("canopy-model-cache");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return PredictorPool.builder(() -> pkg.load(cache)).withReplicas(job.replicas()).withMaxBatch(job.maxBatch())
                    .withMaxWait(job.maxWaitMicros()).withQueueCapacity(Math.max(64, job.maxBatch() * job.replicas() * 4)).build();
        });
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

    public static TileSource source() {
        TileSource s = source;
        if (s == null) {
            synchronized (ExecutorResources.class) {
                if (source == null) source = new TileSource(null, S3Settings.fromEnvironment());
                s = source;
            }
        }
        return s;
    }

    /** Releases everything; later calls build afresh. For tests and benchmarks that switch models. */
    public static synchronized void reset() {
        POOLS.values().forEach(PredictorPool::close);
        POOLS.clear();
        DECODERS.values().forEach(ExecutorService::shutdownNow);
        DECODERS.clear();
        if (source != null) source.close();
        source = null;
    }
}
