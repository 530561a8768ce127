package dev.canopy.serve;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelException;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.PredictorPool;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models a server has loaded, each a {@link PredictorPool}: loaded on first request, at most
 * {@code maxModels} at once (least recently used goes), and re-resolved against the registry every
 * {@code refreshInterval}. When a name now points at another version (after a promotion), the new
 * version is loaded, swapped in, and the old pool drains its queued and running requests before it
 * closes, so no in-flight request is dropped.
 */
public final class ModelCache implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

    /** One loaded version of a model. */
    public record Served(String name, ModelRegistry.Version version, PredictorPool pool, ImageDecoder decoder, Instant checkedAt) {
        public ModelCard card() {
            return version.card();
        }
    }

    private final ModelRegistry registry;
    private final ServeSettings settings;
    private final Clock clock;
    private final MeterRegistry meters;
    private final Map<String, Served> loaded = new LinkedHashMap<>(8, 0.75f, true);

    public ModelCache(ModelRegistry registry, ServeSettings settings, Clock clock, MeterRegistry meters) {
        this.registry = registry;
        this.settings = settings;
        this.clock = clock;
        this.meters = meters;
    }

    /** The served version of {@code name} ({@code name}, {@code name@stage} or {@code name:version}). */
    public Served get(String ref) {
        Served s;
        synchronized (this) {
            s = loaded.get(ref);
            if (s != null && Duration.between(s.checkedAt(), clock.instant()).compareTo(settings.refreshInterval()) < 0) return s;
        }
        ModelRegistry.Version v = resolve(ref);
        synchronized (this) {
            Served current = loaded.get(ref);
            if (current != null && current.version().version() == v.version()) {
                Served refreshed = new Served(current.name(), current.version(), current.pool(), current.decoder(), clock.instant());
                loaded.put(ref, refreshed);
                return refreshed;
            }
            Served next = load(ref, v);
            loaded.put(ref, next);
            if (current != null) {
                LOG.info("model {} now serves version {} (was {})", ref, v.version(), current.version().version());
                retire(current);
            }
            while (loaded.size() > settings.maxModels()) {
                String eldest = loaded.keySet().iterator().next();
                retire(loaded.remove(eldest));
            }
            return next;
        }
    }

    private ModelRegistry.Version resolve(String ref) {
        try {
            boolean explicit = ref.contains(":") || ref.contains("@");
            if (explicit) return registry.resolve(ref);
            try {
                return registry.resolve(ref + "@" + settings.defaultStage());
            } catch (ModelException noStage) {
                if (!noStage.code().equals("registry.no_stage")) throw noStage;
                return registry.resolve(ref); // no version in the default stage: the latest
            }
        } catch (ModelException e) {
            if (e.code().startsWith("registry.")) throw new ApiError(404, "model_not_found", e.getMessage());
            throw e;
        }
    }

    private Served load(String ref, ModelRegistry.Version v) {
        ModelCard card = v.card();
        DistributionSummary batchSize = DistributionSummary.builder("canopy.batch.size").tag("model", v.name()).publishPercentileHistogram()
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64).register(meters);
        Timer queue = Timer.builder("canopy.queue.time").tag("model", v.name()).publishPercentileHistogram().register(meters);
        PredictorPool pool = PredictorPool.builder(() -> registry.openPackage(v).load(java.nio.file.Path.of(System.getProperty("java.io.tmpdir"),
                        "canopy-serve-cache", v.name(), Integer.toString(v.version()))))
                .withReplicas(settings.replicas()).withMaxBatch(settings.maxBatch()).withMaxWait(settings.maxWaitMicros())
                .withQueueCapacity(settings.queueCapacity())
                .withObserver((size, waited, modelNanos) -> {
                    batchSize.record(size);
                    for (long w : waited) queue.record(w, TimeUnit.NANOSECONDS);
                }).build();
        meters.gauge("canopy.model.busy.fraction", List.of(io.micrometer.core.instrument.Tag.of("model", v.name())), pool,
                p -> p.stats().busyFraction());
        return new Served(ref, v, pool, new ImageDecoder(card.inputSize(), card.mean(), card.std()), clock.instant());
    }

    private void retire(Served s) {
        Thread t = new Thread(() -> s.pool().drainAndClose(settings.requestTimeout().multipliedBy(2)), "canopy-retire-" + s.name());
        t.setDaemon(true);
        t.start();
    }

    public synchronized List<Served> loaded() {
        return new ArrayList<>(loaded.values());
    }

    @Override
    public synchronized void close() {
        loaded.values().forEach(s -> s.pool().close());
        loaded.clear();
    }
}
