package dev.canopy.batch;

import dev.canopy.imagery.ImageDecodeException;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.TileSource;
import dev.canopy.model.Classification;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.StorageException;
import dev.canopy.storage.UriPolicy;
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
 * that batches across every caller of the JVM. Results come out in input order.
 *
 * <p>Memory bound: a window limits the tiles in flight by count and by bytes, and the byte count
 * covers the whole path from the fetch request to the model's answer: an estimate (the mean object
 * size seen so far) is reserved when a fetch is issued and corrected to the real size when the
 * bytes arrive; after decoding, the compressed bytes are swapped for the tensor's size; the tensor
 * is released when the model has answered. A new fetch is issued only while the reserved total is
 * below the limit, and only one until the first object's size is known (the first always goes, so a
 * single huge tile still progresses).
 *
 * <p>Every row yields exactly one {@link InferenceResult}: failures become error rows, never
 * exceptions. Transient storage errors are retried with backoff before giving up on a tile. URIs
 * outside the job's {@link UriPolicy}, non-regular files and objects above the size cap are error
 * rows too, never read. One thread consumes the iterator; the other work happens on the pools.
 */
public final class TilePipeline {
    public static final int DEFAULT_MAX_IN_FLIGHT = 256;
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L * 1024 * 1024;
    public static final int DEFAULT_FETCH_ATTEMPTS = 3;
    /** Largest tile object read: 256 MiB (a 4096 px JPEG is a few MiB; a bigger object is a mistake). */
    public static final long DEFAULT_MAX_OBJECT_BYTES = 256L * 1024 * 1024;

    private final TileSource source;
    private final ImageDecoder decoder;
    private final Executor decodePool;
    private final PredictorPool<float[], Classification> pool;
    private final int maxInFlight;
    private final long maxInFlightBytes;
    private final UriPolicy policy;
    private final long maxObjectBytes;
    private final AtomicLong peakBytes = new AtomicLong();

    public TilePipeline(TileSource source, ImageDecoder decoder, Executor decodePool, PredictorPool<float[], Classification> pool, int maxInFlight,
                        long maxInFlightBytes) {
        this(source, decoder, decodePool, pool, maxInFlight, maxInFlightBytes, UriPolicy.trusted(), DEFAULT_MAX_OBJECT_BYTES);
    }

    public TilePipeline(TileSource source, ImageDecoder decoder, Executor decodePool, PredictorPool<float[], Classification> pool, int maxInFlight,
                        long maxInFlightBytes, UriPolicy policy, long maxObjectBytes) {
        if (maxInFlight < 1 || maxInFlightBytes < 1) throw new IllegalArgumentException("in-flight limits must be >= 1");
        this.source = source;
        this.decoder = decoder;
        this.decodePool = decodePool;
        this.pool = pool;
        this.maxInFlight = maxInFlight;
        this.maxInFlightBytes = maxInFlightBytes;
        this.policy = policy;
        this.maxObjectBytes = maxObjectBytes;
    }

    /** The most bytes (reserved, fetched, decoded) that were in flight at once, over every run of this pipeline. */
    public long peakBytesInFlight() {
        return peakBytes.get();
    }

    /** Bytes held between fetch and answer, shared by the callbacks of one run. */
    private final class Budget {
        final AtomicLong used = new AtomicLong();
        final AtomicLong seenBytes = new AtomicLong();
        final AtomicLong seenObjects = new AtomicLong();

        long estimate() {
            long n = seenObjects.get();
            return n == 0 ? 0 : seenBytes.get() / n;
        }

        void add(long bytes) {
            long now = used.addAndGet(bytes);
            peakBytes.accumulateAndGet(now, Math::max);
        }
    }

    public Iterator<InferenceResult> run(Iterator<ManifestRow> rows, PipelineStats stats) {
        Budget budget = new Budget();
        int tensorBytes = 3 * decoder.size() * decoder.size() * Float.BYTES;
        return new Iterator<>() {
            private final ArrayDeque<CompletableFuture<InferenceResult>> window = new ArrayDeque<>();

            private void fill() {
                while (rows.hasNext() && window.size() < maxInFlight
                        && (window.isEmpty() || (budget.seenObjects.get() > 0 // sizes unknown until the first tile lands
                            && budget.used.get() + Math.max(budget.estimate(), tensorBytes) <= maxInFlightBytes))) {
                    window.add(process(rows.next(), stats, budget, tensorBytes));
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
                if (r.isOk()) stats.addProbabilities(r.classification().probabilities(), r.classification().top());
                return r;
            }
        };
    }

    private CompletableFuture<InferenceResult> process(ManifestRow row, PipelineStats stats, Budget budget, int tensorBytes) {
        long t0 = System.nanoTime();
        URI uri;
        try {
            uri = policy.check(row.uri());
        } catch (StorageException e) {
            return CompletableFuture.completedFuture(InferenceResult.error(row, e.oneLine()));
        }
        long reserved = budget.estimate();
        budget.add(reserved);
        long[] held = {reserved}; // what this tile holds in the budget now; touched by one stage at a time
        long[] arrived = new long[1];
        return fetch(uri, DEFAULT_FETCH_ATTEMPTS, stats).thenApply(bytes -> {
            arrived[0] = System.nanoTime();
            stats.fetchNanos.add(arrived[0] - t0); // request issued to bytes here (retries included)
            // the real size replaces the estimate as soon as the bytes exist, not when a decoder gets to them
            budget.seenBytes.addAndGet(bytes.length);
            budget.seenObjects.incrementAndGet();
            budget.add(bytes.length - held[0]);
            held[0] = bytes.length;
            return bytes;
        }).thenApplyAsync(bytes -> {
            stats.decodeWaitNanos.add(System.nanoTime() - arrived[0]); // waiting for a decode thread
            stats.bytesRead.add(bytes.length);
            long d0 = System.nanoTime();
            try {
                float[] t = decoder.decode(bytes, row.uri());
                budget.add(tensorBytes - held[0]);
                held[0] = tensorBytes;
                return t;
            } finally {
                stats.decodeNanos.add(System.nanoTime() - d0);
            }
        }, decodePool).thenCompose(tensor -> {
            long w0 = System.nanoTime();
            try {
                return pool.submit(tensor).whenComplete((p, e) -> stats.modelWaitNanos.add(System.nanoTime() - w0));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CompletionException(e);
            }
        }).handle((c, err) -> {
            budget.add(-held[0]);
            held[0] = 0;
            if (err == null) return InferenceResult.ok(row, c);
            Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            return InferenceResult.error(row, describe(cause));
        });
    }

    private CompletableFuture<byte[]> fetch(URI uri, int attemptsLeft, PipelineStats stats) {
        CompletableFuture<byte[]> first;
        try {
            first = source.fetch(uri, maxObjectBytes);
        } catch (RuntimeException e) {
            first = CompletableFuture.failedFuture(e);
        }
        return first.handle((bytes, err) -> {
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
