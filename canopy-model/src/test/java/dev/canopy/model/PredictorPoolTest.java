package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** Batching, backpressure, deadlines and the close race of the pool. */
class PredictorPoolTest {
    static final ModelCard CARD = new ModelCard("p", ModelCard.FORMAT_DJL, "small-cnn", 32, new float[] {0, 0, 0}, new float[] {1, 1, 1},
            List.of("a", "b", "c"), Map.of(), null);
    static final int PLANE = 3 * 32 * 32;

    static TileClassifier model() {
        return new BlockClassifier(CARD, Architecture.SMALL_CNN.initialWeights(3, 32, 1));
    }

    /**
     * A model that answers "class = first pixel" slowly and records misuse: a predict after close, or a
     * close during a predict, flips {@code misuse}.
     */
    static final class FakeModel implements TileClassifier {
        final AtomicBoolean misuse = new AtomicBoolean();
        final AtomicInteger predicting = new AtomicInteger();
        volatile boolean closed;
        final long sleepMicros;

        FakeModel(long sleepMicros) {
            this.sleepMicros = sleepMicros;
        }

        @Override public ModelCard card() { return CARD; }

        @Override
        public float[] predict(float[] images, int n) {
            predicting.incrementAndGet();
            try {
                if (closed) misuse.set(true);
                java.util.concurrent.locks.LockSupport.parkNanos(sleepMicros * 1000);
                float[] out = new float[n * 3];
                for (int i = 0; i < n; i++) out[i * 3 + ((int) images[i * PLANE]) % 3] = 1;
                if (closed) misuse.set(true);
                return out;
            } finally {
                predicting.decrementAndGet();
            }
        }

        @Override
        public void close() {
            if (predicting.get() > 0) misuse.set(true);
            closed = true;
        }
    }

    static float[] image(int cls) {
        float[] x = new float[PLANE];
        x[0] = cls;
        return x;
    }

    @Test
    void formsBatchesAcrossCallerThreadsAndAnswersEachCallerItsOwnImage() throws Exception {
        List<Integer> sizes = new CopyOnWriteArrayList<>();
        FakeModel m = new FakeModel(2_000);
        try (PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> m).withMaxBatch(16).withMaxWait(20_000)
                .withObserver((size, queued, nanos) -> sizes.add(size)).build()) {
            int callers = 8;
            CountDownLatch go = new CountDownLatch(1);
            ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < callers; c++) {
                int caller = c;
                Thread t = new Thread(() -> {
                    try {
                        go.await();
                        for (int i = 0; i < 8; i++) {
                            int cls = (caller + i) % 3;
                            Classification r = pool.submit(image(cls)).get(10, TimeUnit.SECONDS);
                            if (r.top() != cls) wrong.add(caller + "/" + i);
                        }
                    } catch (Exception e) {
                        wrong.add(e.toString());
                    }
                });
                t.start();
                threads.add(t);
            }
            go.countDown();
            for (Thread t : threads) t.join();
            assertThat(wrong).isEmpty();
            assertThat(sizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(64);
            // one caller submits and waits, so only batching across threads can make a batch above 1
            assertThat(sizes.stream().mapToInt(Integer::intValue).max().orElse(0)).isGreaterThan(1).isLessThanOrEqualTo(16);
        }
    }

    @Test
    void aRealModelAnswersProbabilitiesThatSumToOne() throws Exception {
        try (PredictorPool<float[], Classification> pool = PredictorPool.classifier(PredictorPoolTest::model).withMaxBatch(4).build()) {
            Classification c = pool.submit(new float[PLANE]).get();
            assertThat(c.classes()).containsExactly("a", "b", "c");
            double sum = 0;
            for (float p : c.probabilities()) sum += p;
            assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
            assertThat(c.topClass()).isEqualTo(c.classes().get(c.top()));
        }
    }

    @Test
    void aWrongSizedImageFailsItsFutureNotThePool() throws Exception {
        try (PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> new FakeModel(0)).build()) {
            assertThatThrownBy(() -> pool.submit(new float[7]).get()).hasCauseInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("3x32x32");
            assertThat(pool.submit(image(2)).get().top()).isEqualTo(2);
        }
    }

    @Test
    void aFullQueueRefusesAndExpiredRequestsAreDroppedNotComputed() throws Exception {
        try (PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> new FakeModel(5_000)).withMaxBatch(1).withQueueCapacity(2).build()) {
            int refused = 0;
            List<CompletableFuture<Classification>> fs = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                try {
                    fs.add(pool.trySubmit(image(1)));
                } catch (RejectedExecutionException e) {
                    refused++;
                }
            }
            assertThat(refused).isPositive();
            for (CompletableFuture<Classification> f : fs) assertThat(f.get().top()).isEqualTo(1);
            long before = pool.stats().images();
            CompletableFuture<Classification> late = pool.trySubmit(image(1), System.nanoTime() - 1);
            assertThatThrownBy(late::get).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PredictorPool.DeadlineExceeded.class);
            assertThat(pool.stats().images()).isEqualTo(before);
        }
    }

    @Test
    void drainAndCloseFinishesQueuedWork() throws Exception {
        PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> new FakeModel(1_000)).withMaxBatch(4).build();
        List<CompletableFuture<Classification>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) fs.add(pool.submit(image(i % 3)));
        pool.drainAndClose(java.time.Duration.ofSeconds(30));
        for (int i = 0; i < 20; i++) assertThat(fs.get(i).get().top()).isEqualTo(i % 3);
        assertThatThrownBy(() -> pool.trySubmit(image(0))).isInstanceOf(RejectedExecutionException.class);
    }

    /**
     * Many threads submit (blocking and non-blocking) while another closes the pool: every future that
     * a submit returned completes, with an answer or an error, and no model is closed mid-batch.
     */
    @RepeatedTest(20)
    void everySubmittedFutureCompletesWhenClosingUnderLoad() throws Exception {
        List<FakeModel> models = new CopyOnWriteArrayList<>();
        PredictorPool<float[], Classification> pool = PredictorPool.classifier(() -> {
            FakeModel m = new FakeModel(300);
            models.add(m);
            return m;
        }).withReplicas(2).withMaxBatch(8).withMaxWait(0).withQueueCapacity(16).build();
        ConcurrentLinkedQueue<CompletableFuture<Classification>> futures = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch started = new CountDownLatch(6);
        List<Thread> submitters = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            boolean blocking = t % 2 == 0;
            Thread th = new Thread(() -> {
                started.countDown();
                while (!stop.get()) {
                    try {
                        futures.add(blocking ? pool.submit(image(1)) : pool.trySubmit(image(1)));
                    } catch (RejectedExecutionException refused) {
                        if (pool.isClosed()) return;
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            th.start();
            submitters.add(th);
        }
        started.await();
        // close once work is flowing: some answered, more queued
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                .until(() -> futures.stream().anyMatch(CompletableFuture::isDone) && pool.queueDepth() > 0);
        pool.close();
        stop.set(true);
        for (Thread th : submitters) th.join(10_000);
        int answered = 0;
        for (CompletableFuture<Classification> f : futures) {
            try {
                f.get(10, TimeUnit.SECONDS); // a TimeoutException here is the bug this test exists for
                answered++;
            } catch (ExecutionException e) {
                assertThat(e.getCause()).isInstanceOf(RejectedExecutionException.class);
            }
        }
        assertThat(futures).isNotEmpty();
        assertThat(answered).isPositive();
        assertThat(pool.isTerminated()).isTrue();
        assertThat(models).hasSize(2).allSatisfy(m -> {
            assertThat(m.closed).isTrue();
            assertThat(m.misuse).isFalse();
        });
    }
}
