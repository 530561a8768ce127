package dev.canopy.train;

import dev.canopy.imagery.TileSource;

import dev.canopy.imagery.ImageDecodeException;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.storage.StorageException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds training: fetches tiles concurrently from the store, decodes them on a CPU pool, caches the
 * decoded pixels when they fit in the cache budget, augments, and assembles batches, keeping
 * {@link #PREFETCH_BATCHES} batches in flight ahead of the consumer. A tile that cannot be fetched
 * or decoded is skipped and counted, never fatal. Batches are deterministic for (order, seed).
 */
public final class TileLoader implements AutoCloseable {
    public static final int PREFETCH_BATCHES = 3;
    private static final Logger LOG = LoggerFactory.getLogger(TileLoader.class);

    private final TileSource source;
    private final ImageDecoder decoder;
    private final ExecutorService cpu;
    private final DecodedTileCache cache;
    private final String namespace;
    private final Map<String, String> skipped = new ConcurrentHashMap<>();

    /**
     * @param cache     decoded pixels between epochs, usually {@link DecodedTileCache#shared()}
     * @param namespace what makes tile ids unique in that cache (the survey root); the input size is added
     */
    public TileLoader(TileSource source, ImageDecoder decoder, int threads, DecodedTileCache cache, String namespace) {
        this.source = source;
        this.decoder = decoder;
        this.cache = cache;
        this.namespace = namespace + "|" + decoder.size() + "|";
        AtomicInteger n = new AtomicInteger();
        this.cpu = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "canopy-decode-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** A batch: {@code n} images as CHW floats, their labels and ids. */
    public record Batch(float[] x, long[] y, List<String> ids, int n) { }

    /** Tiles skipped so far (id to reason), across epochs; each bad tile is counted once. */
    public Map<String, String> skipped() {
        return skipped;
    }

    /**
     * Batches over {@code samples} in the given order. With {@code augmentSeed} non-null, each
     * sample is augmented with a random stream derived from (seed, position), so reruns match.
     */
    public Iterator<Batch> batches(List<Sample> samples, int[] order, int batchSize, Long augmentSeed) {
        return new Iterator<>() {
            private final ArrayDeque<CompletableFuture<Batch>> inFlight = new ArrayDeque<>();
            private int nextStart = 0;
            private Batch ready;

            private void fill() {
                while (inFlight.size() < PREFETCH_BATCHES && nextStart < order.length) {
                    int start = nextStart, end = Math.min(order.length, start + batchSize);
                    nextStart = end;
                    inFlight.add(batch(samples, order, start, end, augmentSeed));
                }
            }

            @Override
            public boolean hasNext() {
                while (ready == null) {
                    fill();
                    if (inFlight.isEmpty()) return false;
                    Batch b = inFlight.poll().join();
                    if (b.n() > 0) ready = b;
                }
                return true;
            }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                Batch b = ready;
                ready = null;
                return b;
            }
        };
    }

    /**
     * Batches over the given ranges of positions in {@code order} (one batch per range, in turn, empty ones included:
     * data-parallel ranks must all take every step). Augmentation follows each sample's position in the whole order,
     * so a sample is augmented alike whichever rank or sub-batch takes it.
     */
    public Iterator<Batch> batches(List<Sample> samples, int[] order, List<int[]> ranges, Long augmentSeed) {
        return new Iterator<>() {
            private final ArrayDeque<CompletableFuture<Batch>> inFlight = new ArrayDeque<>();
            private int next = 0;

            private void fill() {
                while (inFlight.size() < PREFETCH_BATCHES && next < ranges.size()) {
                    int[] r = ranges.get(next++);
                    inFlight.add(batch(samples, order, r[0], r[1], augmentSeed));
                }
            }

            @Override
            public boolean hasNext() {
                fill();
                return !inFlight.isEmpty();
            }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                return inFlight.poll().join();
            }
        };
    }

    private CompletableFuture<Batch> batch(List<Sample> samples, int[] order, int start, int end, Long augmentSeed) {
        List<CompletableFuture<float[]>> parts = new ArrayList<>(end - start);
        for (int i = start; i < end; i++) {
            Sample s = samples.get(order[i]);
            int position = i;
            parts.add(pixels(s).thenApplyAsync(px -> {
                if (px == null) return null;
                int[] p = px;
                if (augmentSeed != null) {
                    SplittableRandom rng = new SplittableRandom(augmentSeed * 0x9E3779B97F4A7C15L + position);
                    p = Augment.apply(px, decoder.size(), rng, Augment.DEFAULT_BRIGHTNESS);
                }
                return decoder.normalize(p);
            }, cpu));
        }
        return CompletableFuture.allOf(parts.toArray(new CompletableFuture[0])).thenApply(v -> {
            int plane = 3 * decoder.size() * decoder.size();
            int n = 0;
            for (CompletableFuture<float[]> f : parts) if (f.join() != null) n++;
            float[] x = new float[n * plane];
            long[] y = new long[n];
            List<String> ids = new ArrayList<>(n);
            int k = 0;
            for (int i = 0; i < parts.size(); i++) {
                float[] t = parts.get(i).join();
                if (t == null) continue;
                System.arraycopy(t, 0, x, k * plane, plane);
                Sample s = samples.get(order[start + i]);
                y[k] = s.label();
                ids.add(s.id());
                k++;
            }
            return new Batch(x, y, ids, n);
        });
    }

    /** Decoded pixels of a sample, or null if it must be skipped. */
    private CompletableFuture<int[]> pixels(Sample s) {
        int[] hit = cache.get(namespace + s.id());
        if (hit != null) return CompletableFuture.completedFuture(hit);
        if (skipped.containsKey(s.id())) return CompletableFuture.completedFuture(null);
        return source.fetch(s.uri()).thenApplyAsync(bytes -> {
            int[] px = decoder.decodePixels(bytes, s.uri().toString());
            cache.put(namespace + s.id(), px);
            return px;
        }, cpu).exceptionally(t -> {
            Throwable c = t.getCause() != null ? t.getCause() : t;
            if (c instanceof ImageDecodeException || c instanceof StorageException.NotFound) {
                if (skipped.putIfAbsent(s.id(), c.getMessage()) == null) LOG.warn("skipping tile {}: {}", s.id(), c.getMessage());
                return null;
            }
            throw new java.util.concurrent.CompletionException(c);
        });
    }

    @Override
    public void close() {
        cpu.shutdownNow(); // the shared cache outlives this loader on purpose
    }
}
