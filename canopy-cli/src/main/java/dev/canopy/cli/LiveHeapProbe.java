package dev.canopy.cli;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * The largest heap still in use right after a full collection, as the collector itself reports it.
 *
 * <p>Why not {@code System.gc()} then {@code MemoryMXBean.getHeapMemoryUsage()}: between the two calls
 * the other threads keep allocating, and on a busy 2-core machine the sampling thread can be off the CPU
 * long enough for hundreds of megabytes of fresh garbage to be counted as live (measured: 675 MB "after
 * GC" in a run where {@code jcmd GC.class_histogram} never saw more than 101 MB live). The collector's
 * notification carries the usage at the end of the collection, with no window.
 *
 * <p>Threads: {@link #onFullGc} runs on the JVM's notification thread; the maximum is an atomic.
 */
final class LiveHeapProbe implements AutoCloseable {
    private final AtomicLong maxLiveBytes = new AtomicLong();
    private final AtomicLong fullCollections = new AtomicLong();
    private final List<Long> samples = new ArrayList<>();
    private final Set<String> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP).map(MemoryPoolMXBean::getName).collect(Collectors.toSet());
    private final List<NotificationEmitter> emitters = new ArrayList<>();
    private final NotificationListener listener = (n, handback) -> {
        if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
            onFullGc(GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData()));
        }
    };

    LiveHeapProbe() {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter e) {
                e.addNotificationListener(listener, null, null);
                emitters.add(e);
            }
        }
    }

    private void onFullGc(GarbageCollectionNotificationInfo info) {
        if (!info.getGcAction().contains("major")) return; // young collections leave old garbage in place: not a live figure
        long used = 0;
        for (Map.Entry<String, MemoryUsage> pool : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
            if (heapPools.contains(pool.getKey())) used += pool.getValue().getUsed();
        }
        fullCollections.incrementAndGet();
        maxLiveBytes.accumulateAndGet(used, Math::max);
        synchronized (samples) {
            samples.add(used);
        }
    }

    /** Largest live heap seen after a full collection so far, in bytes (0 before the first). */
    long maxLiveBytes() {
        return maxLiveBytes.get();
    }

    /** Live heap after each full collection so far, in bytes, in order. */
    List<Long> samples() {
        synchronized (samples) {
            return List.copyOf(samples);
        }
    }

    long fullCollections() {
        return fullCollections.get();
    }

    /** A full collection now, returning once its notification has been counted (notifications arrive on another thread). */
    void collectNow() throws InterruptedException {
        long before = fullCollections.get();
        System.gc();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (fullCollections.get() == before && System.nanoTime() < deadline) Thread.sleep(10);
    }

    @Override
    public void close() {
        for (NotificationEmitter e : emitters) {
            try {
                e.removeNotificationListener(listener);
            } catch (Exception ignored) {
                // already removed
            }
        }
    }
}
