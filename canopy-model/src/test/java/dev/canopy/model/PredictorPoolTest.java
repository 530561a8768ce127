package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

/** Batching, backpressure and deadlines of the pool, with a real small CNN as the model. */
class PredictorPoolTest {
    static final ModelCard CARD = new ModelCard("p", ModelCard.FORMAT_DJL, "small-cnn", 32, new float[] {0, 0, 0}, new float[] {1, 1, 1},
            List.of("a", "b", "c"), Map.of(), null);

    static TileClassifier model() {
        return new BlockClassifier(CARD, Architecture.SMALL_CNN.initialWeights(3, 32, 1));
    }

    @Test
    void formsBatchesAcrossCallersAndAnswersEveryone() throws Exception {
        List<Integer> sizes = new CopyOnWriteArrayList<>();
        try (PredictorPool pool = PredictorPool.builder(PredictorPoolTest::model).withMaxBatch(16).withMaxWait(20_000)
                .withObserver((size, queued, nanos) -> sizes.add(size)).build()) {
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 64; i++) fs.add(pool.submit(new float[3 * 32 * 32]));
            for (CompletableFuture<float[]> f : fs) assertThat(f.get()).hasSize(3);
            assertThat(sizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(64);
            assertThat(sizes.stream().mapToInt(Integer::intValue).max().orElse(0)).isGreaterThan(1).isLessThanOrEqualTo(16);
            assertThat(pool.stats().images()).isEqualTo(64);
        }
    }

    @Test
    void aFullQueueRefusesAndExpiredRequestsAreDroppedNotComputed() throws Exception {
        try (PredictorPool pool = PredictorPool.builder(PredictorPoolTest::model).withMaxBatch(1).withQueueCapacity(2).build()) {
            int refused = 0;
            List<CompletableFuture<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                try {
                    fs.add(pool.trySubmit(new float[3 * 32 * 32]));
                } catch (RejectedExecutionException e) {
                    refused++;
                }
            }
            assertThat(refused).isPositive();
            for (CompletableFuture<float[]> f : fs) assertThat(f.get()).hasSize(3);
            long before = pool.stats().images();
            CompletableFuture<float[]> late = pool.trySubmit(new float[3 * 32 * 32], System.nanoTime() - 1);
            assertThatThrownBy(late::get).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PredictorPool.DeadlineExceeded.class);
            assertThat(pool.stats().images()).isEqualTo(before);
        }
    }

    @Test
    void drainAndCloseFinishesQueuedWork() throws Exception {
        PredictorPool pool = PredictorPool.builder(PredictorPoolTest::model).withMaxBatch(4).build();
        List<CompletableFuture<float[]>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) fs.add(pool.submit(new float[3 * 32 * 32]));
        pool.drainAndClose(java.time.Duration.ofSeconds(30));
        for (CompletableFuture<float[]> f : fs) assertThat(f.get()).hasSize(3);
        assertThatThrownBy(() -> pool.trySubmit(new float[3 * 32 * 32])).isInstanceOf(RejectedExecutionException.class);
    }
}
