package dev.canopy.tune;

import dev.canopy.api.Json;
import dev.canopy.api.train.Trainable;
import dev.canopy.api.train.TrainingException;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A trainable for runner tests whose behaviour comes from its settings (TrainableFactory builds it by class
 * name): "tag" names the counters it updates, "quality" shapes the curve as in CurveTrainable, and step
 * "failAt" throws the first "failTimes" times it is reached (IllegalStateException, or TrainingException when
 * "failWith" is "training"). A checkpoint is two files, the marker written last.
 */
public class ProbeTrainable implements Trainable {
    /** What happened to every instance with one tag. */
    static final class Stats {
        final AtomicInteger setups = new AtomicInteger();
        final AtomicInteger restores = new AtomicInteger();
        final AtomicInteger steps = new AtomicInteger();
        final AtomicInteger failures = new AtomicInteger();
        final AtomicInteger closes = new AtomicInteger();
        volatile String thread;
        volatile boolean daemon;
    }

    private static final Map<String, Stats> STATS = new ConcurrentHashMap<>();
    private static final AtomicLong TAGS = new AtomicLong();

    private String tag = "untagged";
    private double quality;
    private int failAt;
    private int failTimes;
    private boolean training;
    private int t;

    public ProbeTrainable() { }

    /** A tag no other test execution in this JVM uses (PIT reruns tests in one JVM). */
    static String newTag(String name) {
        return name + "#" + TAGS.incrementAndGet();
    }

    static Stats stats(String tag) {
        return STATS.computeIfAbsent(tag, k -> new Stats());
    }

    static double accuracy(double quality, int t) {
        return quality * (1 - Math.exp(-t / 3.0));
    }

    @Override
    public void setup(Map<String, Object> config) {
        tag = String.valueOf(config.getOrDefault("tag", "untagged"));
        quality = ((Number) config.getOrDefault("quality", 0.5)).doubleValue();
        failAt = ((Number) config.getOrDefault("failAt", 0)).intValue();
        failTimes = ((Number) config.getOrDefault("failTimes", 1)).intValue();
        training = "training".equals(config.get("failWith"));
        stats(tag).setups.incrementAndGet();
    }

    @Override
    public StepResult step() {
        Stats s = stats(tag);
        s.thread = Thread.currentThread().getName();
        s.daemon = Thread.currentThread().isDaemon();
        int next = t + 1;
        if (next == failAt && s.failures.incrementAndGet() <= failTimes) {
            if (training) throw new TrainingException("probe.bad_config", "probe cannot train at step " + next, "change the config");
            throw new IllegalStateException("probe flaked at step " + next);
        }
        t = next;
        s.steps.incrementAndGet();
        return new StepResult(t, Map.of("val_accuracy", accuracy(quality, t), "loss", 1 - quality));
    }

    @Override
    public int iteration() {
        return t;
    }

    @Override
    public void save(URI location) {
        try (ObjectStore s = ObjectStores.open(location, S3Settings.defaults())) {
            s.put("weights.bin", ("weights@" + t).getBytes(StandardCharsets.UTF_8));
            s.put(CHECKPOINT_MARKER, Json.write(Map.of("t", t)));
        }
    }

    @Override
    public void restore(URI location) {
        try (ObjectStore s = ObjectStores.open(location, S3Settings.defaults())) {
            Map<?, ?> state = Json.read(s.get(CHECKPOINT_MARKER), Map.class, "probe state");
            int saved = ((Number) state.get("t")).intValue();
            String weights = new String(s.get("weights.bin"), StandardCharsets.UTF_8);
            if (!weights.equals("weights@" + saved)) throw new IllegalStateException("weights '" + weights + "' do not belong to step " + saved);
            t = saved;
        }
        stats(tag).restores.incrementAndGet();
    }

    @Override
    public void close() {
        stats(tag).closes.incrementAndGet();
    }
}
