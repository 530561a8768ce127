package dev.canopy.serve;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.model.Classification;
import dev.canopy.model.Lease;
import dev.canopy.model.ModelCard;
import dev.canopy.model.RegistryException;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.PredictorPool;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models a server has loaded, each a {@link PredictorPool}: loaded on first request, at most
 * {@code maxModels} at once (least recently used goes), and re-resolved against the registry every
 * {@code refreshInterval} (an injected {@link Clock}).
 *
 * <p>Loading happens outside the cache's lock, one load per name at a time (concurrent requests for
 * a name share it; distinct names load in parallel). When a name now points at another version (a
 * promotion), the old version keeps serving while the new one loads in the background, as Caffeine's
 * refresh does; then the new one is swapped in. A request holds a {@link Lease} on the version it
 * started with from decoding to answer, so a swap loses nothing: the old pool closes only after its
 * last leased request was answered.
 */
public final class ModelCache implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

    /** One loaded version of a model. Close it (release the lease) when the request is answered. */
    public static final class Served implements AutoCloseable {
        private final String ref;
        private final ModelRegistry.Version version;
        private final Lease<PredictorPool<float[], Classification>> lease;
        private final ImageDecoder decoder;
        private volatile Instant checkedAt;

        Served(String ref, ModelRegistry.Version version, PredictorPool<float[], Classification> pool, ImageDecoder decoder, Instant checkedAt) {
            this.ref = ref;
            this.version = version;
            this.lease = new Lease<>(pool);
            this.decoder = decoder;
            this.checkedAt = checkedAt;
        }

        public String ref() { return ref; }
        public ModelRegistry.Version version() { return version; }
        public PredictorPool<float[], Classification> pool() { return lease.resource(); }
        public ImageDecoder decoder() { return decoder; }
        public ModelCard card() { return version.card(); }
        public boolean isRetired() { return lease.isRetired(); }

        @Override
        public void close() {
            lease.release();
        }
    }

    private final ModelRegistry registry;
    private final ServeSettings settings;
    private final Clock clock;
    private final MeterRegistry meters;
    private final Map<String, Served> loaded = new LinkedHashMap<>(8, 0.75f, true);
    private final Map<String, CompletableFuture<Served>> loading = new ConcurrentHashMap<>();
    private final Map<String, Boolean> gauges = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public ModelCache(ModelRegistry registry, ServeSettings settings, Clock clock, MeterRegistry meters) {
        this.registry = registry;
        this.settings = settings;
        this.clock = clock;
        this.meters = meters;
    }

    /**
     * The version of {@code ref} ({@code name}, {@code name@stage} or {@code name:version}) to answer
     * one request with, leased: the caller must close it after the answer.
     */
    public Served acquire(String ref) {
        ref = canonical(ref);
        for (int attempt = 0; ; attempt++) {
            if (closed) throw new ApiError(503, "stopping", "the server is stopping", "1");
            Served s = current(ref);
            if (s.lease.acquire()) return s;
            if (attempt > 100) throw new IllegalStateException("model " + ref + " keeps being retired"); // never expected
        }
    }

    /**
     * One key per model version choice: {@code m:01} and {@code m:1} are the same, stages ignore case,
     * so clients cannot load one version many times over and push other models out of the cache.
     */
    static String canonical(String ref) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^([^:@]+)(?::0*(\\d+)|@(\\w+))?$").matcher(ref.trim());
        if (!m.matches()) return ref; // the registry refuses it with a clear message
        if (m.group(2) != null) return m.group(1) + ":" + (m.group(2).isEmpty() ? "0" : m.group(2));
        if (m.group(3) != null) return m.group(1) + "@" + m.group(3).toLowerCase(java.util.Locale.ROOT);
        return m.group(1);
    }

    private Served current(String ref) {
        Served s;
        synchronized (this) {
            s = loaded.get(ref);
        }
        if (s == null) return join(ref, load(ref)); // nothing to serve yet: wait for the (shared) load
        if (Duration.between(s.checkedAt, clock.instant()).compareTo(settings.refreshInterval()) >= 0) refresh(ref, s);
        return s;
    }

    /** Re-resolves {@code ref}; a new version loads in the background while {@code s} keeps serving. */
    private void refresh(String ref, Served s) {
        s.checkedAt = clock.instant(); // one refresh per interval, even when many requests see it stale
        ModelRegistry.Version v;
        try {
            v = resolve(ref);
        } catch (RuntimeException e) {
            LOG.warn("cannot re-resolve {}; still serving version {}: {}", ref, s.version.version(), e.getMessage());
            return;
        }
        if (v.version() != s.version.version()) {
            load(ref).exceptionally(e -> {
                LOG.error("loading {} failed; still serving version {}", ref, s.version.version(), e);
                return null;
            });
        }
    }

    /** Starts (or joins) the one load of {@code ref}; installs the result when done. */
    private CompletableFuture<Served> load(String ref) {
        CompletableFuture<Served> mine = new CompletableFuture<>();
        CompletableFuture<Served> existing = loading.putIfAbsent(ref, mine);
        if (existing != null) return existing;
        Thread t = new Thread(() -> {
            try {
                ModelRegistry.Version v = resolve(ref);
                Served next = build(ref, v);
                install(ref, next);
                mine.complete(next);
            } catch (Throwable e) {
                mine.completeExceptionally(e);
            } finally {
                loading.remove(ref, mine);
            }
        }, "canopy-load-" + ref);
        t.setDaemon(true);
        t.start();
        return mine;
    }

    private void install(String ref, Served next) {
        List<Served> retired = new ArrayList<>();
        synchronized (this) {
            if (closed) { // a load that finished after close: nobody will serve or close it but us
                next.lease.retire();
                next.pool().close();
                throw new ApiError(503, "stopping", "the server is stopping", "1");
            }
            Served old = loaded.put(ref, next);
            if (old != null && old != next) {
                LOG.info("model {} now serves version {} (was {})", ref, next.version.version(), old.version.version());
                retired.add(old);
            }
            while (loaded.size() > settings.maxModels()) {
                String eldest = loaded.keySet().iterator().next();
                retired.add(loaded.remove(eldest));
            }
        }
        retired.forEach(s -> s.lease.retire()); // each closes after its last request's answer
    }

    private static Served join(String ref, CompletableFuture<Served> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw e;
        }
    }

    private ModelRegistry.Version resolve(String ref) {
        try {
            boolean explicit = ref.contains(":") || ref.contains("@");
            if (explicit) return registry.resolve(ref);
            try {
                return registry.resolve(ref + "@" + settings.defaultStage());
            } catch (RegistryException noStage) {
                if (noStage.kind() != RegistryException.Kind.NO_STAGE) throw noStage;
                return registry.resolve(ref); // no version in the default stage: the latest
            }
        } catch (RegistryException e) {
            // the registry's message names its location: clients get the reference they sent only
            if (e.kind().isNotFound()) throw new ApiError(404, "model_not_found", "no model version for '" + ref + "'; GET /v1/models lists what exists");
            throw new ApiError(400, "bad_model_ref", "invalid model reference '" + ref + "': write NAME, NAME:VERSION or NAME@STAGE");
        }
    }

    private Served build(String ref, ModelRegistry.Version v) {
        ModelCard card = v.card();
        DistributionSummary batchSize = DistributionSummary.builder("canopy.batch.size").tag("model", v.name()).publishPercentileHistogram()
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64).register(meters);
        Timer queue = Timer.builder("canopy.queue.time").tag("model", v.name()).publishPercentileHistogram().register(meters);
        java.nio.file.Path cacheDir = java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "canopy-serve-cache", v.name(), Integer.toString(v.version()));
        dev.canopy.model.ModelPackage pkg = registry.openPackage(v);
        dev.canopy.model.InferenceEngine engine = settings.engine() == null ? null
                : new dev.canopy.model.EngineChoice(settings.enginesDir() != null ? settings.enginesDir()
                        : java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "canopy-serve-cache", "engines"), clock)
                        .resolve(pkg, settings.engine(), LOG::info);
        PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> engine == null ? pkg.load(cacheDir) : pkg.load(cacheDir, engine))
                .withReplicas(settings.replicas()).withMaxBatch(settings.maxBatch()).withMaxWait(settings.maxWaitMicros())
                .withQueueCapacity(settings.queueCapacity())
                .withObserver((size, waited, modelNanos) -> {
                    batchSize.record(size);
                    for (long w : waited) queue.record(w, TimeUnit.NANOSECONDS);
                }).build();
        // one gauge per name that reads whichever version serves now (a gauge bound to a pool would stick to the first)
        gauges.computeIfAbsent(v.name(), name -> {
            Gauge.builder("canopy.model.busy.fraction", () -> busyFraction(name)).tag("model", name).register(meters);
            return true;
        });
        return new Served(ref, v, pool, card.decoder(), clock.instant());
    }

    private synchronized double busyFraction(String name) {
        for (Served s : loaded.values()) if (s.version.name().equals(name)) return s.pool().stats().busyFraction();
        return 0;
    }

    /** Loads {@code ref} now (used at start so that a model that cannot be served fails loudly). */
    public void preload(String ref) {
        acquire(ref).close();
    }

    public synchronized List<Served> loaded() {
        return new ArrayList<>(loaded.values());
    }

    @Override
    public void close() {
        List<Served> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(loaded.values());
            loaded.clear();
        }
        all.forEach(s -> s.lease.retire());
        all.forEach(s -> s.pool().close()); // shutting down: do not wait for leases
    }
}
