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

    private record Request(float[] image, CompletableFuture<float[]> result, long enqueuedNanos, long deadlineNanos) { }

    /**
     * Sees every batch a replica runs: its size, how long each request waited in the queue, and the
     * model time. Called on the replica thread right after the batch; must be cheap (a metrics update).
     */
    public interface BatchObserver {
        BatchObserver NONE = (size, queueNanos, modelNanos) -> { };

        void onBatch(int size, long[] queueNanos, long modelNanos);
    }

    /** A request whose deadline passed before a replica took it: it is dropped, not computed. */
    public static final class DeadlineExceeded extends RuntimeException {
        public DeadlineExceeded() {
            super("request deadline passed while queued", null, false, false);
        }
    }

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
    private volatile boolean draining;
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private final BatchObserver observer;
    private volatile double perImageNanos; // running average of model time per image, shared by replicas

    private PredictorPool(Builder b) {
        this.observer = b.observer;
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
        private BatchObserver observer = BatchObserver.NONE;

        public Builder withObserver(BatchObserver o) {
            observer = o;
            return this;
        }

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
        if (closed || draining) throw new RejectedExecutionException("pool is closed");
        Request r = new Request(image, new CompletableFuture<>(), System.nanoTime(), Long.MAX_VALUE);
        queue.put(r);
        return r.result();
    }

    /** Queues one image without waiting; fails with {@link RejectedExecutionException} when the queue is full. */
    public CompletableFuture<float[]> trySubmit(float[] image) {
        return trySubmit(image, Long.MAX_VALUE);
    }

    /**
     * Queues one image without waiting, to be dropped with {@link DeadlineExceeded} if no replica takes
     * it before {@code deadlineNanos} ({@link System#nanoTime()} clock). Fails with
     * {@link RejectedExecutionException} when the queue is full: the caller should shed load.
     */
    public CompletableFuture<float[]> trySubmit(float[] image, long deadlineNanos) {
        if (closed || draining) throw new RejectedExecutionException("pool is closed");
        Request r = new Request(image, new CompletableFuture<>(), System.nanoTime(), deadlineNanos);
        if (!queue.offer(r)) throw new RejectedExecutionException("prediction queue is full (" + queueDepth() + " waiting)");
        return r.result();
    }

    public int queueDepth() {
        return queue.size();
    }

    private void serve(TileClassifier model) {
        int plane = 3 * card.inputSize() * card.inputSize();
        List<Request> batch = new ArrayList<>(maxBatch);
        Request carry = null; // taken from the queue but left out of the last batch: first in the next one
        while (!closed) {
            try {
                Request first = carry != null ? carry : queue.poll(100, TimeUnit.MILLISECONDS);
                carry = null;
                if (first == null) continue;
                inFlight.incrementAndGet();
                try {
                    if (hopeless(first, 1)) continue;
                    batch.add(first);
                    long earliest = first.deadlineNanos();
                    long waitUntil = System.nanoTime() + maxWaitNanos;
                    boolean interrupted = false;
                    while (batch.size() < maxBatch) {
                        long left = waitUntil - System.nanoTime();
                        Request next;
                        try {
                            next = left <= 0 ? queue.poll() : queue.poll(left, TimeUnit.NANOSECONDS);
                        } catch (InterruptedException e) {
                            interrupted = true; // closing: finish what was taken, then stop
                            break;
                        }
                        if (next == null) break;
                        if (hopeless(next, 1)) continue;
                        // a bigger batch takes longer: stop growing it before it would miss someone's deadline
                        long finish = System.nanoTime() + estimate(batch.size() + 1);
                        if (finish > Math.min(earliest, next.deadlineNanos())) {
                            carry = next;
                            break;
                        }
                        batch.add(next);
                        earliest = Math.min(earliest, next.deadlineNanos());
                    }
                    runBatch(model, batch, plane);
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                } finally {
                    inFlight.decrementAndGet();
                    batch.clear();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (carry != null) carry.result().completeExceptionally(new RejectedExecutionException("pool closed"));
    }

    /** Predicted model time of a batch of {@code n}, from the running average cost per image (0 until measured). */
    private long estimate(int n) {
        return (long) (perImageNanos * n);
    }

    /** True (and the request answered with {@link DeadlineExceeded}) if it cannot finish before its deadline. */
    private boolean hopeless(Request r, int batchSize) {
        if (System.nanoTime() + estimate(batchSize) <= r.deadlineNanos()) return false;
        r.result().completeExceptionally(new DeadlineExceeded());
        return true;
    }

    private void runBatch(TileClassifier model, List<Request> batch, int plane) {
        {
            {
                float[] x = new float[batch.size() * plane];
                long now = System.nanoTime();
                long[] waited = new long[batch.size()];
                for (int i = 0; i < batch.size(); i++) {
                    System.arraycopy(batch.get(i).image(), 0, x, i * plane, plane);
                    waited[i] = now - batch.get(i).enqueuedNanos();
                    queueNanos.addAndGet(waited[i]);
                }
                long t0 = System.nanoTime();
                float[] probs;
                try {
                    probs = model.predict(x, batch.size());
                } catch (RuntimeException e) {
                    for (Request r : batch) r.result().completeExceptionally(e);
                    return;
                } finally {
                    busyNanos.addAndGet(System.nanoTime() - t0);
                }
                long modelNanos = System.nanoTime() - t0;
                double cost = modelNanos / (double) batch.size();
                perImageNanos = perImageNanos == 0 ? cost : 0.8 * perImageNanos + 0.2 * cost;
                batches.incrementAndGet();
                images.addAndGet(batch.size());
                observer.onBatch(batch.size(), waited, modelNanos); // before answering: metrics never lag the answers
                for (int i = 0; i < batch.size(); i++) {
                    float[] p = new float[classes];
                    System.arraycopy(probs, i * classes, p, 0, classes);
                    batch.get(i).result().complete(p);
                }
            }
        }
    }

    /**
     * Stops taking new requests, lets every queued and running request finish (up to {@code timeout}),
     * then closes. Used when a model version is swapped out under live traffic.
     */
    public void drainAndClose(java.time.Duration timeout) {
        draining = true;
        long end = System.nanoTime() + timeout.toNanos();
        while ((!queue.isEmpty() || inFlight.get() > 0) && System.nanoTime() < end) {
            try {
                Thread.sleep(5); // waiting on replica threads to empty the queue
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        close();
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
