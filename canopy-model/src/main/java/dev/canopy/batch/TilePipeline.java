package dev.canopy.batch;

import dev.canopy.imagery.ImageDecodeException;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.StorageException;
import dev.canopy.imagery.TileSource;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Streams manifest rows to results without fusing stages: fetches run concurrently on the store's
 * async client, decoding runs on a shared CPU pool, and prediction on a shared {@link PredictorPool}
 * that batches across every caller of the JVM. A window bounds the tiles in flight (and so memory)
 * by count and by fetched bytes; results come out in input order.
 *
 * <p>Every row yields exactly one {@link InferenceResult}: failures become error rows, never
 * exceptions. Transient storage errors are retried with backoff before giving up on a tile.
 * One thread consumes the iterator; the other work happens on the pools.
 */
public final class TilePipeline {
    public static final int DEFAULT_MAX_IN_FLIGHT = 256;
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L * 1024 * 1024;
    public static final int DEFAULT_FETCH_ATTEMPTS = 3;

    private final TileSource source;
    private final ImageDecoder decoder;
    private final Executor decodePool;
    private final PredictorPool pool;
    private final int maxInFlight;
    private final long maxInFlightBytes;

    public TilePipeline(TileSource source, ImageDecoder decoder, Executor decodePool, PredictorPool pool, int maxInFlight, long maxInFlightBytes) {
        this.source = source;
        this.decoder = decoder;
        this.decodePool = decodePool;
        this.pool = pool;
        this.maxInFlight = maxInFlight;
        this.maxInFlightBytes = maxInFlightBytes;
    }

    public Iterator<InferenceResult> run(Iterator<ManifestRow> rows, PipelineStats stats) {
        AtomicLong bytesInFlight = new AtomicLong();
        return new Iterator<>() {
            private final ArrayDeque<CompletableFuture<InferenceResult>> window = new ArrayDeque<>();

            private void fill() {
                while (rows.hasNext() && window.size() < maxInFlight && (window.isEmpty() || bytesInFlight.get() < maxInFlightBytes)) {
                    window.add(process(rows.next(), stats, bytesInFlight));
                }
            }

            @Override
            public boolean hasNext() {
                fill();
                return !window.isEmpty();
            }

            @Override
            public InferenceResult next() {
                if (!hasNext()) throw new NoSuchElementException();
                InferenceResult r = window.poll().join();
                stats.rows.increment();
                (r.isOk() ? stats.ok : stats.errors).increment();
                if (r.isOk()) stats.addProbabilities(r.probabilities(), r.topClass());
                return r;
            }
        };
    }

    private CompletableFuture<InferenceResult> process(ManifestRow row, PipelineStats stats, AtomicLong bytesInFlight) {
        long t0 = System.nanoTime();
        URI uri = URI.create(row.uri());
        return fetch(uri, DEFAULT_FETCH_ATTEMPTS, stats).thenApplyAsync(bytes -> {
            stats.fetchNanos.add(System.nanoTime() - t0); // latency: request issued to bytes handed to a decoder
            stats.bytesRead.add(bytes.length);
            bytesInFlight.addAndGet(bytes.length);
            long d0 = System.nanoTime();
            try {
                return decoder.normalize(decoder.decodePixels(bytes, row.uri()));
            } finally {
                stats.decodeNanos.add(System.nanoTime() - d0);
                bytesInFlight.addAndGet(-bytes.length);
            }
        }, decodePool).thenCompose(tensor -> {
            long w0 = System.nanoTime();
            try {
                return pool.submit(tensor).whenComplete((p, e) -> stats.modelWaitNanos.add(System.nanoTime() - w0));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CompletionException(e);
            }
        }).handle((probs, err) -> {
            if (err == null) return InferenceResult.ok(row, probs);
            Throwable c = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            return InferenceResult.error(row, describe(c));
        });
    }

    private CompletableFuture<byte[]> fetch(URI uri, int attemptsLeft, PipelineStats stats) {
        return source.fetch(uri).handle((bytes, err) -> {
            if (err == null) return CompletableFuture.completedFuture(bytes);
            Throwable c = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            if (c instanceof StorageException.Transient && attemptsLeft > 1) {
                stats.retries.increment();
                long backoffMs = 50L << (DEFAULT_FETCH_ATTEMPTS - attemptsLeft);
                Executor later = CompletableFuture.delayedExecutor(backoffMs, java.util.concurrent.TimeUnit.MILLISECONDS);
                return CompletableFuture.supplyAsync(() -> null, later).thenCompose(v -> fetch(uri, attemptsLeft - 1, stats));
            }
            return CompletableFuture.<byte[]>failedFuture(c);
        }).thenCompose(f -> f);
    }

    static String describe(Throwable t) {
        if (t instanceof ImageDecodeException || t instanceof StorageException) return t.getMessage();
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
