package dev.canopy.model;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Shares one closeable resource (a loaded model's pool) between users and a cache that may retire
 * it: {@link #retire()} closes it as soon as the last user has called {@link #release()}, never under a
 * user. {@link #acquire()} fails once the resource is retired, so a user either holds a live resource
 * or learns to look up the current one.
 *
 * <p>Threads: any. The count and the retired flag change only by compare-and-set, so a user that
 * acquires concurrently with a retire either wins (and the close waits for its release) or loses.
 */
public final class Lease<T extends AutoCloseable> {
    private static final int CLOSED = Integer.MIN_VALUE;
    private final T resource;
    private final AtomicInteger users = new AtomicInteger();
    private final AtomicBoolean retired = new AtomicBoolean();
    private volatile long lastUsedNanos = System.nanoTime();

    public Lease(T resource) {
        this.resource = resource;
    }

    public T resource() {
        return resource;
    }

    /** Takes a share; false if the resource is retired (look up the current one instead). */
    public boolean acquire() {
        if (retired.get()) return false;
        while (true) {
            int n = users.get();
            if (n < 0) return false;
            if (users.compareAndSet(n, n + 1)) {
                lastUsedNanos = System.nanoTime();
                if (retired.get()) { // retired while we took it: give it back
                    release();
                    return false;
                }
                return true;
            }
        }
    }

    public void release() {
        lastUsedNanos = System.nanoTime();
        if (users.decrementAndGet() == 0 && retired.get()) closeIfIdle();
    }

    /** No new users; closed now if nobody holds it, else when the last one releases. */
    public void retire() {
        retired.set(true);
        closeIfIdle();
    }

    public boolean isRetired() {
        return retired.get();
    }

    public int users() {
        return Math.max(0, users.get());
    }

    public long lastUsedNanos() {
        return lastUsedNanos;
    }

    private void closeIfIdle() {
        if (users.compareAndSet(0, CLOSED)) {
            try {
                resource.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + resource + " failed", e);
            }
        }
    }
}
