package dev.canopy.train;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Decoded tile pixels kept between epochs, one bounded cache per process shared by every training
 * run in it (the concurrent trials of a tuning experiment included, which then also share each
 * other's decoded tiles when they train on the same survey at the same size). Least recently used
 * entries leave when the byte budget is exceeded.
 *
 * <p>The budget is {@value #DEFAULT_BYTES_TEXT} unless {@code -Dcanopy.train.cacheBytes=N} says
 * otherwise. Threads: any; one lock, held only for map operations.
 */
public final class DecodedTileCache {
    static final String DEFAULT_BYTES_TEXT = "1 GiB";
    public static final long DEFAULT_BYTES = 1L << 30;
    private static final DecodedTileCache SHARED = new DecodedTileCache(Long.getLong("canopy.train.cacheBytes", DEFAULT_BYTES));

    private final long budget;
    private final Map<String, int[]> entries = new LinkedHashMap<>(1024, 0.75f, true);
    private long bytes;

    public DecodedTileCache(long budget) {
        if (budget < 0) throw new IllegalArgumentException("cache budget must be >= 0");
        this.budget = budget;
    }

    /** The one cache of this process. */
    public static DecodedTileCache shared() {
        return SHARED;
    }

    public synchronized int[] get(String key) {
        return entries.get(key);
    }

    /** Keeps {@code pixels} unless they alone exceed the budget; evicts the least recently used to make room. */
    public synchronized void put(String key, int[] pixels) {
        long size = 4L * pixels.length;
        if (size > budget) return;
        int[] old = entries.put(key, pixels);
        if (old != null) bytes -= 4L * old.length;
        bytes += size;
        Iterator<Map.Entry<String, int[]>> it = entries.entrySet().iterator();
        while (bytes > budget && it.hasNext()) {
            Map.Entry<String, int[]> e = it.next();
            if (e.getKey().equals(key)) continue;
            bytes -= 4L * e.getValue().length;
            it.remove();
        }
    }

    public synchronized long bytes() {
        return bytes;
    }

    public long budget() {
        return budget;
    }

    public synchronized int size() {
        return entries.size();
    }

    public synchronized void clear() {
        entries.clear();
        bytes = 0;
    }
}
