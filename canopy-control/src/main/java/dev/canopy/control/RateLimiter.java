package dev.canopy.control;

import java.time.Clock;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Requests per second per token, in this server process (several servers each allow the rate): a token
 * bucket that refills at {@code perSecond} and holds up to twice that, so short bursts pass.
 * Threads: any.
 */
final class RateLimiter {
    private final double perSecond;
    private final double capacity;
    private final Clock clock;
    private final ConcurrentHashMap<String, double[]> buckets = new ConcurrentHashMap<>();

    RateLimiter(double perSecond, Clock clock) {
        this.perSecond = perSecond;
        this.capacity = Math.max(1, 2 * perSecond);
        this.clock = clock;
    }

    /** Takes one request from {@code key}'s bucket: 0 if allowed, else the milliseconds until one is. */
    long acquire(String key) {
        if (perSecond <= 0) return 0;
        long now = clock.millis();
        long[] wait = {0};
        buckets.compute(key, (k, b) -> {
            if (b == null) b = new double[] {capacity, now};
            double tokens = Math.min(capacity, b[0] + (now - b[1]) / 1000.0 * perSecond);
            b[1] = now;
            if (tokens >= 1) {
                b[0] = tokens - 1;
            } else {
                b[0] = tokens;
                wait[0] = (long) Math.ceil((1 - tokens) / perSecond * 1000);
            }
            return b;
        });
        if (buckets.size() > 100_000) buckets.clear(); // bounded: forgetting buckets only forgives, never blocks
        return wait[0];
    }
}
