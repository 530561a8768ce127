package dev.canopy.model;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * N replicas of one model behind one queue that forms batches: a replica takes the first waiting
 * item, then keeps taking until it has {@link Builder#withMaxBatch max batch} items or
 * {@link Builder#withMaxWait max wait} has passed since the first. All callers of a JVM share one
 * pool (the Spark tasks of an executor, the HTTP requests of a server), so batches form across
 * callers and the number of decoding threads is independent of the number of replicas. A
 * {@link Translator} turns items into model inputs and output rows into answers, so the pool is typed
 * ({@code PredictorPool<float[], Classification>} for an image classifier).
 *
 * <p>Threads: {@link #submit} and {@link #trySubmit} are called from any thread; the translator's
 * {@code toInput} runs there. Futures complete on replica threads; keep continuations cheap.
 *
 * <p>Completion rule: every future returned by a submit method completes, with an answer or an
 * error, whatever the timing of {@link #close}: a submit that races with close either reaches a
 * replica (which answers it) or is failed with {@link RejectedExecutionException}. Each replica
 * closes its own model when its thread ends, so a model is never closed under a running batch.
 */
public final class PredictorPool<I, O> implements AutoCloseable {
    public static final int DEFAULT_REPLICAS = 1;
    public static final int DEFAULT_MAX_BATCH = 32;
    public static final long DEFAULT_MAX_WAIT_MICROS = 5_000;
    public static final int DEFAULT_QUEUE_CAPACITY = 1024;

    private record Request<O>(float[] input, CompletableFuture<O> result, long enqueuedNanos, long deadlineNanos) { }

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

    /** The pool no longer takes requests (closed, or draining before a close). */
    public static final class Closed extends RejectedExecutionException {
        public Closed() {
            super("the model pool is closed");
        }
    }

    private final ModelCard card;
    private final Translator<I, O> translator;
    private final BlockingQueue<Request<O>> queue;
    private final List<Thread> replicas = new ArrayList<>();
    private final int maxBatch;
    private final long maxWaitNanos;
    private final long started = System.nanoTime();
    private final AtomicLong busyNanos = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong images = new AtomicLong();
    private final AtomicLong queueNanos = new AtomicLong();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger liveReplicas = new AtomicInteger();
    private final Object idle = new Object();
    private volatile boolean closed;
    private volatile boolean draining;
    private final BatchObserver observer;
    private volatile double perImageNanos; // running average of model time per image, shared by replicas

    private PredictorPool(Builder<I, O> b) {
        this.observer = b.observer;
        this.maxBatch = b.maxBatch;
        this.maxWaitNanos = b.maxWaitMicros * 1000;
        this.queue = new ArrayBlockingQueue<>(b.queueCapacity);
        List<TileClassifier> models = new ArrayList<>();
        try {
            for (int i = 0; i < b.replicas; i++) models.add(b.factory.get());
        } catch (RuntimeException e) {
            models.forEach(TileClassifier::close);
            throw e;
        }
        this.card = models.get(0).card();
        this.translator = b.translators.apply(card);
        for (int i = 0; i < b.replicas; i++) {
            TileClassifier m = models.get(i);
            Thread t = new Thread(() -> serve(m), "canopy-replica-" + card.name() + "-" + i);
            t.setDaemon(true);
            replicas.add(t);
        }
        liveReplicas.set(replicas.size());
        replicas.forEach(Thread::start);
    }

    /** An image classifier pool: submit normalised CHW images, get {@link Classification}s. */
    public static Builder<float[], Classification> classifier(Supplier<TileClassifier> factory) {
        return new Builder<>(factory, Classification::translator);
    }

    /** A pool with any translator, made from the first replica's card. */
    public static <I, O> Builder<I, O> builder(Supplier<TileClassifier> factory, Function<ModelCard, Translator<I, O>> translators) {
        return new Builder<>(factory, translators);
    }

    /** Fluent settings with named defaults. */
    public static final class Builder<I, O> {
        private final Supplier<TileClassifier> factory;
        private final Function<ModelCard, Translator<I, O>> translators;
        private int replicas = DEFAULT_REPLICAS;
        private int maxBatch = DEFAULT_MAX_BATCH;
        private long maxWaitMicros = DEFAULT_MAX_WAIT_MICROS;
        private int queueCapacity = DEFAULT_QUEUE_CAPACITY;
        private BatchObserver observer = BatchObserver.NONE;

        private Builder(Supplier<TileClassifier> factory, Function<ModelCard, Translator<I, O>> translators) {
            this.factory = factory;
            this.translators = translators;
        }

        public Builder<I, O> withObserver(BatchObserver o) {
            observer = o;
            return this;
        }

        public Builder<I, O> withReplicas(int r) {
            if (r < 1) throw new IllegalArgumentException("replicas must be >= 1");
            replicas = r;
            return this;
        }

        public Builder<I, O> withMaxBatch(int b) {
            if (b < 1) throw new IllegalArgumentException("max batch must be >= 1");
            maxBatch = b;
            return this;
        }

        public Builder<I, O> withMaxWait(long micros) {
            if (micros < 0) throw new IllegalArgumentException("max wait must be >= 0");
            maxWaitMicros = micros;
            return this;
        }

        public Builder<I, O> withQueueCapacity(int c) {
            if (c < 1) throw new IllegalArgumentException("queue capacity must be >= 1");
            queueCapacity = c;
            return this;
        }

        public PredictorPool<I, O> build() {
            return new PredictorPool<>(this);
        }
    }

    public ModelCard card() {
        return card;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Queues one item; waits for queue space (backpressure to the producer). */
    public CompletableFuture<O> submit(I item) throws InterruptedException {
        Request<O> r = request(item, Long.MAX_VALUE);
        if (r.result().isDone()) return r.result();
        while (!queue.offer(r, 50, TimeUnit.MILLISECONDS)) {
            if (closed || draining) throw new Closed();
        }
        return afterEnqueue(r);
    }

    /** Queues one item without waiting; fails with {@link RejectedExecutionException} when the queue is full. */
    public CompletableFuture<O> trySubmit(I item) {
        return trySubmit(item, Long.MAX_VALUE);
    }

    /**
     * Queues one item without waiting, to be dropped with {@link DeadlineExceeded} if no replica takes
     * it before {@code deadlineNanos} ({@link System#nanoTime()} clock). Fails with
     * {@link RejectedExecutionException} when the queue is full: the caller should shed load.
     */
    public CompletableFuture<O> trySubmit(I item, long deadlineNanos) {
        Request<O> r = request(item, deadlineNanos);
        if (r.result().isDone()) return r.result();
        if (!queue.offer(r)) throw new RejectedExecutionException("prediction queue is full (" + queueDepth() + " waiting)");
        return afterEnqueue(r);
    }

    private Request<O> request(I item, long deadlineNanos) {
        if (closed || draining) throw new Closed();
        CompletableFuture<O> f = new CompletableFuture<>();
        float[] input;
        try {
            input = translator.toInput(item);
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
            input = null;
        }
        return new Request<>(input, f, System.nanoTime(), deadlineNanos);
    }

    /**
     * The close race: if close began while we were enqueuing, replicas may already have stopped and
     * close may already have drained the queue. Taking our request back out means nobody else has it,
     * so we fail it; if it is gone, a replica or close took it and will complete it.
     */
    private CompletableFuture<O> afterEnqueue(Request<O> r) {
        if (closed && queue.remove(r)) r.result().completeExceptionally(new Closed());
        return r.result();
    }

    public int queueDepth() {
        return queue.size();
    }

    private void serve(TileClassifier model) {
        int plane = 3 * card.inputSize() * card.inputSize();
        List<Request<O>> batch = new ArrayList<>(maxBatch);
        Request<O> carry = null; // taken from the queue but left out of the last batch: first in the next one
        try {
            while (!closed || carry != null) {
                boolean carried = carry != null; // a carried request is already counted in flight
                Request<O> first = carried ? carry : queue.poll(100, TimeUnit.MILLISECONDS);
                carry = null;
                if (first == null) continue;
                if (!carried) inFlight.incrementAndGet();
                try {
                    if (hopeless(first, 1)) continue;
                    batch.add(first);
                    long earliest = first.deadlineNanos();
                    long waitUntil = System.nanoTime() + maxWaitNanos;
                    while (batch.size() < maxBatch) {
                        long left = waitUntil - System.nanoTime();
                        Request<O> next = left <= 0 || closed ? queue.poll() : queue.poll(left, TimeUnit.NANOSECONDS);
                        if (next == null) break;
                        if (hopeless(next, 1)) continue;
                        // a bigger batch takes longer: stop growing it before it would miss someone's deadline
                        long finish = System.nanoTime() + estimate(batch.size() + 1);
                        if (finish > Math.min(earliest, next.deadlineNanos())) {
                            carry = next;
                            inFlight.incrementAndGet();
                            break;
                        }
                        batch.add(next);
                        earliest = Math.min(earliest, next.deadlineNanos());
                    }
                    runBatch(model, batch, plane);
                } finally {
                    inFlight.decrementAndGet();
                    for (Request<O> r : batch) r.result().completeExceptionally(new Closed()); // no-op for answered ones
                    batch.clear();
                    synchronized (idle) {
                        idle.notifyAll();
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (carry != null) carry.result().completeExceptionally(new Closed());
            model.close(); // only this thread ever predicts with this model
            if (liveReplicas.decrementAndGet() == 0) {
                // the last replica is gone (closed, or killed by an Error): nobody will take what is queued
                closed = true;
                Request<O> r;
                while ((r = queue.poll()) != null) r.result().completeExceptionally(new Closed());
            }
        }
    }

    /** Predicted model time of a batch of {@code n}, from the running average cost per image (0 until measured). */
    private long estimate(int n) {
        return (long) (perImageNanos * n);
    }

    /** True (and the request answered with {@link DeadlineExceeded}) if it cannot finish before its deadline. */
    private boolean hopeless(Request<O> r, int batchSize) {
        if (System.nanoTime() + estimate(batchSize) <= r.deadlineNanos()) return false;
        r.result().completeExceptionally(new DeadlineExceeded());
        return true;
    }

    private void runBatch(TileClassifier model, List<Request<O>> batch, int plane) {
        try {
            float[] x = new float[batch.size() * plane];
            long now = System.nanoTime();
            long[] waited = new long[batch.size()];
            for (int i = 0; i < batch.size(); i++) {
                System.arraycopy(batch.get(i).input(), 0, x, i * plane, plane);
                waited[i] = now - batch.get(i).enqueuedNanos();
                queueNanos.addAndGet(waited[i]);
            }
            long t0 = System.nanoTime();
            float[] out;
            try {
                out = model.predict(x, batch.size());
            } finally {
                busyNanos.addAndGet(System.nanoTime() - t0);
            }
            long modelNanos = System.nanoTime() - t0;
            double cost = modelNanos / (double) batch.size();
            perImageNanos = perImageNanos == 0 ? cost : 0.8 * perImageNanos + 0.2 * cost;
            batches.incrementAndGet();
            images.addAndGet(batch.size());
            observer.onBatch(batch.size(), waited, modelNanos); // before answering: metrics never lag the answers
            int width = out.length / batch.size();
            for (int i = 0; i < batch.size(); i++) {
                float[] row = new float[width];
                System.arraycopy(out, i * width, row, 0, width);
                try {
                    batch.get(i).result().complete(translator.fromOutput(row));
                } catch (RuntimeException e) {
                    batch.get(i).result().completeExceptionally(e);
                }
            }
        } catch (Throwable e) {
            // a failed batch fails its requests (already-answered ones are unaffected); the replica goes on
            for (Request<O> r : batch) r.result().completeExceptionally(e);
            if (e instanceof Error err && !(e instanceof OutOfMemoryError)) throw err;
        }
    }

    /**
     * Stops taking new requests, lets every queued and running request finish (up to {@code timeout}),
     * then closes.
     */
    public void drainAndClose(Duration timeout) {
        draining = true;
        long end = System.nanoTime() + timeout.toNanos();
        synchronized (idle) {
            while ((!queue.isEmpty() || inFlight.get() > 0) && System.nanoTime() < end) {
                try {
                    idle.wait(Math.max(1, Math.min(50, (end - System.nanoTime()) / 1_000_000)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
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

    /** True once every replica thread has ended (and closed its model). */
    public boolean isTerminated() {
        return liveReplicas.get() == 0;
    }

    /**
     * Stops the replicas after the batch each is running, fails every request still queued with
     * {@link Closed}, and waits up to 30 s for replicas to end (each closes its own model as it ends).
     * Called on a replica thread (a continuation of an answer), it does not wait for that replica.
     */
    @Override
    public void close() {
        closed = true;
        for (Thread t : replicas) {
            if (t == Thread.currentThread()) continue; // closed from an answer's continuation: this replica ends after its batch
            try {
                t.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        Request<O> r;
        while ((r = queue.poll()) != null) r.result().completeExceptionally(new Closed());
    }
}
