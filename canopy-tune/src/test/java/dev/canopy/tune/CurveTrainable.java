package dev.canopy.tune;

import dev.canopy.api.train.Trainable;
import dev.canopy.api.Json;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A trainable whose learning curve is a formula of its config: val_accuracy = quality * (1 - exp(-t / 3)).
 * Real save/restore through the object store, no training: scheduler and runner tests run in milliseconds.
 */
public class CurveTrainable implements Trainable {
    static final AtomicLong STEPS = new AtomicLong();
    private double quality;
    private int t;

    @Override
    public void setup(Map<String, Object> config) {
        for (String k : config.keySet()) {
            if (!k.equals("quality") && !k.equals("lr") && !k.equals("epochs") && !k.equals("fail")) {
                throw new IllegalArgumentException("unknown setting '" + k + "'");
            }
        }
        quality = ((Number) config.getOrDefault("quality", 0.5)).doubleValue();
        if (Boolean.TRUE.equals(config.get("fail"))) throw new IllegalStateException("configured to fail");
    }

    @Override
    public StepResult step() {
        STEPS.incrementAndGet();
        t++;
        return new StepResult(t, Map.of("val_accuracy", quality * (1 - Math.exp(-t / 3.0)), "loss", 1 - quality));
    }

    @Override
    public int iteration() {
        return t;
    }

    @Override
    public void save(URI location) {
        try (ObjectStore s = ObjectStores.open(location, S3Settings.defaults())) {
            s.put("state.json", Json.write(Map.of("t", t, "quality", quality)));
        }
    }

    @Override
    public void restore(URI location) {
        try (ObjectStore s = ObjectStores.open(location, S3Settings.defaults())) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = Json.read(s.get("state.json"), Map.class, "curve state");
            t = ((Number) m.get("t")).intValue();
        }
    }

    @Override
    public void close() { }
}
