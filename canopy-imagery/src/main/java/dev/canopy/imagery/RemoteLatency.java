package dev.canopy.imagery;

import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Benchmark stand-in for a remote object store: each request holds one of {@code maxConcurrency}
 * connections for its own work plus {@code latencyMs}, and requests beyond that wait in a queue, as
 * in an S3 client's connection pool. Callers are never blocked: {@link #submit} returns at once.
 *
 * <p>Threads: a request starts on the thread that submits it or on the thread that frees a connection
 * (the common pool, after the delay), which completes the answer first, then starts the next queued request.
 */
final class RemoteLatency {
    private final Semaphore connections;
    private final Queue<Runnable> waiting = new ConcurrentLinkedQueue<>();
    private final Executor later;

    RemoteLatency(long latencyMs, int maxConcurrency) {
        if (latencyMs < 0 || maxConcurrency < 1) throw new IllegalArgumentException("latency >= 0 and concurrency >= 1 expected");
        this.connections = new Semaphore(maxConcurrency);
        this.later = CompletableFuture.delayedExecutor(latencyMs, TimeUnit.MILLISECONDS);
    }

    <T> CompletableFuture<T> submit(Supplier<CompletableFuture<T>> request) {
        CompletableFuture<T> answer = new CompletableFuture<>();
        waiting.add(() -> {
            CompletableFuture<T> started;
            try {
                started = request.get();
            } catch (Throwable e) { // whatever the request throws, its connection is given back below
                started = CompletableFuture.failedFuture(e);
            }
            started.whenCompleteAsync((v, e) -> {
                try {
                    if (e != null) answer.completeExceptionally(e);
                    else answer.complete(v);
                } finally {
                    connections.release(); // the connection is free once the latency has passed and the answer is out
                    drain();
                }
            }, later);
        });
        drain();
        return answer;
    }

    /** Starts queued requests while connections are free; the re-check after a release closes the race with a concurrent add. */
    private void drain() {
        while (!waiting.isEmpty() && connections.tryAcquire()) {
            Runnable next = waiting.poll();
            if (next == null) {
                connections.release();
                continue;
            }
            next.run();
        }
    }

    int freeConnections() {
        return connections.availablePermits();
    }
}
