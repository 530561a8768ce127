package dev.canopy.model;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * N replicas of one model behind one queue that forms batches: a replica takes the first waiting
 * image, then keeps taking until it has {@link Builder#withMaxBatch max batch} images or
 * {@link Builder#withMaxWait max wait} has passed since the first. All callers of a JVM share one
 * pool (the Spark tasks of an executor, the HTTP requests of a server), so batches form across
 * callers and the number of decoding threads is independent of the number of replicas.
 *
 * <p>Threads: {@link #submit} is called from any thread and never blocks beyond the queue bound
 * (it fails fast with {@link RejectedExecutionException} when the queue is full and the caller asked
 * not to wait). Futures complete on replica threads; keep continuations cheap or move them off.
 */
public final class PredictorPool implements AutoCloseable {
    public static final int DEFAULT_REPLICAS = 1;
    public static final int DEFAULT_MAX_BATCH = 32;
    public static final long DEFAULT_MAX_WAIT_MICROS = 5_000;
    public static final int DEFAULT_QUEUE_CAPACITY = 1024;

    private record Request(float[] image, CompletableFuture<float[]> result, long enqueuedNanos) { }

    private final ModelCard card;
    private final BlockingQueue<Request> queue;
    private final List<Thread> replicas = new ArrayList<>();
    private final List<TileClassifier> models = new ArrayList<>();
    private final int maxBatch;
    private final long maxWaitNanos;
    private final int classes;
    private final long started = System.nanoTime();
    private final AtomicLong busyNanos = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong images = new AtomicLong();
    private final AtomicLong queueNanos = new AtomicLong();
    private volatile boolean closed;

    private PredictorPool(Builder b) {
        this.maxBatch = b.maxBatch;
        this.maxWaitNanos = b.maxWaitMicros * 1000;
        this.queue = new ArrayBlockingQueue<>(b.queueCapacity);
        for (int i = 0; i < b.replicas; i++) models.add(b.factory.get());
        this.card = models.get(0).card();
        this.classes = card.classes().size();
        for (int i = 0; i < b.replicas; i++) {
            TileClassifier m = models.get(i);
            Thread t = new Thread(() -> serve(m), "canopy-replica-" + card.name() + "-" + i);
            t.setDaemon(true);
            t.start();
            replicas.add(t);
        }
    }

    public static Builder builder(Supplier<TileClassifier> factory) {
        return new Builder(factory);
    }

    /** Fluent settings with named defaults. */
    public static final class Builder {
        private final Supplier<TileClassifier> factory;
        private int replicas = DEFAULT_REPLICAS;
        private int maxBatch = DEFAULT_MAX_BATCH;
        private long maxWaitMicros = DEFAULT_MAX_WAIT_MICROS;
        private int queueCapacity = DEFAULT_QUEUE_CAPACITY;

        private Builder(Supplier<TileClassifier> factory) {
            this.factory = factory;
        }

        public Builder withReplicas(int r) {
            if (r < 1) throw new IllegalArgumentException("replicas must be >= 1");
            replicas = r;
            return this;
        }

        public Builder withMaxBatch(int b) {
            if (b < 1) throw new IllegalArgumentException("max batch must be >= 1");
            maxBatch = b;
            return this;
        }

        public Builder withMaxWait(long micros) {
            if (micros < 0) throw new IllegalArgumentException("max wait must be >= 0");
            maxWaitMicros = micros;
            return this;
        }

        public Builder withQueueCapacity(int c) {
            if (c < 1) throw new IllegalArgumentException("queue capacity must be >= 1");
            queueCapacity = c;
            return this;
        }

        public PredictorPool build() {
            return new PredictorPool(this);
        }
    }

    public ModelCard card() {
        return card;
    }

    /** Queues one normalised CHW image; waits for queue space (backpressure to the producer). */
    public CompletableFuture<float[]> submit(float[] image) throws InterruptedException {
        if (closed) throw new RejectedExecutionException("pool is closed");
        Request r = new Request(image, new CompletableFuture<>(), System.nanoTime());
        queue.put(r);
        return r.result();
    }

    /** Queues one image without waiting; fails with {@link RejectedExecutionException} when the queue is full. */
    public CompletableFuture<float[]> trySubmit(float[] image) {
        if (closed) throw new RejectedExecutionException("pool is closed");
        Request r = new Request(image, new CompletableFuture<>(), System.nanoTime());
        if (!queue.offer(r)) throw new RejectedExecutionException("prediction queue is full (" + queueDepth() + " waiting)");
        return r.result();
    }

    public int queueDepth() {
        return queue.size();
    }

    private void serve(TileClassifier model) {
        int plane = 3 * card.inputSize() * card.inputSize();
        List<Request> batch = new ArrayList<>(maxBatch);
        while (!closed) {
            try {
                Request first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) continue;
                batch.add(first);
                long deadline = System.nanoTime() + maxWaitNanos;
                while (batch.size() < maxBatch) {
                    long left = deadline - System.nanoTime();
                    Request next = left <= 0 ? queue.poll() : queue.poll(left, TimeUnit.NANOSECONDS);
                    if (next == null) break;
                    batch.add(next);
                }
                float[] x = new float[batch.size() * plane];
                long now = System.nanoTime();
                for (int i = 0; i < batch.size(); i++) {
                    System.arraycopy(batch.get(i).image(), 0, x, i * plane, plane);
                    queueNanos.addAndGet(now - batch.get(i).enqueuedNanos());
                }
                long t0 = System.nanoTime();
                float[] probs;
                try {
                    probs = model.predict(x, batch.size());
                } catch (RuntimeException e) {
                    for (Request r : batch) r.result().completeExceptionally(e);
                    continue;
                } finally {
                    busyNanos.addAndGet(System.nanoTime() - t0);
                }
                batches.incrementAndGet();
                images.addAndGet(batch.size());
                for (int i = 0; i < batch.size(); i++) {
                    float[] p = new float[classes];
                    System.arraycopy(probs, i * classes, p, 0, classes);
                    batch.get(i).result().complete(p);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                batch.clear();
            }
        }
    }

    /** Counters since the pool started. */
    public record Stats(long images, long batches, double busyFraction, double meanBatch, double meanQueueMillis) { }

    public Stats stats() {
        long imgs = images.get(), b = batches.get();
        double wall = (System.nanoTime() - started) * (double) replicas.size();
        return new Stats(imgs, b, wall <= 0 ? 0 : busyNanos.get() / wall, b == 0 ? 0 : imgs / (double) b,
                imgs == 0 ? 0 : queueNanos.get() / 1e6 / imgs);
    }

    public long busyNanos() {
        return busyNanos.get();
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : replicas) {
            t.interrupt();
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Request r;
        while ((r = queue.poll()) != null) r.result().completeExceptionally(new RejectedExecutionException("pool closed"));
        models.forEach(TileClassifier::close);
    }
}
