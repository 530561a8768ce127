package dev.canopy.train;

import dev.canopy.api.train.AllReduce;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.train.TrainingException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Synchronous data parallelism: 2 ranks joined by a real {@link RingAllReduce} on loopback, each taking half of every
 * global batch, end with the weights one process gets taking the same two halves in turn (batch norm normalises
 * each slice on its own, as PyTorch DDP does without SyncBatchNorm, so the single-process reference takes the same
 * slices: {@code workers = 2} in one process).
 */
@Timeout(300)
class DataParallelTest {
    @TempDir
    static Path shared;
    static Path survey;

    @BeforeAll
    static void survey() {
        survey = TinySurvey.generate(shared.resolve("survey"), 160, 32, 3);
    }

    static Map<String, Object> config(int workers, int epochs) {
        Map<String, Object> c = TinySurvey.config(survey, epochs);
        c.put("workers", workers);
        return c;
    }

    @Test
    void twoRanksOverTheRingGiveTheWeightsOfOneProcessTakingTheSameSlicesInTurn() throws Exception {
        float[] initial;
        float[] reference;
        Map<String, Double> referenceMetrics;
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(config(2, 2));
            initial = t.trainedWeights();
            t.step();
            referenceMetrics = t.step().metrics();
            reference = t.trainedWeights();
        }
        float[] plain;
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(config(1, 2));
            t.step();
            t.step();
            plain = t.trainedWeights();
        }

        List<CompletableFuture<Object[]>> ranks = ranks(2, (rank, ring) -> {
            try (TileClassifierTrainable t = new TileClassifierTrainable()) {
                t.setup(config(2, 2));
                t.dataParallel(ring);
                t.step();
                Map<String, Double> m = t.step().metrics();
                return new Object[] {t.trainedWeights(), m};
            }
        });
        float[] rank0 = (float[]) ranks.get(0).get()[0];
        float[] rank1 = (float[]) ranks.get(1).get()[0];
        @SuppressWarnings("unchecked")
        Map<String, Double> m0 = (Map<String, Double>) ranks.get(0).get()[1];
        @SuppressWarnings("unchecked")
        Map<String, Double> m1 = (Map<String, Double>) ranks.get(1).get()[1];

        assertThat(rank1).as("both ranks make the same updates").isEqualTo(rank0);
        assertThat(maxRelativeDifference(rank0, reference)).as("2 ranks vs 1 process, after 2 epochs").isLessThanOrEqualTo(1e-5);
        assertThat(maxRelativeDifference(reference, initial)).as("the weights moved").isGreaterThan(1e-2);
        assertThat(maxRelativeDifference(plain, reference)).as("slicing matters (batch norm per slice): the test can tell").isGreaterThan(1e-5);
        assertThat(m0.get("train_loss")).isCloseTo(referenceMetrics.get("train_loss"), org.assertj.core.data.Offset.offset(1e-4));
        assertThat(m0.get("val_accuracy")).isEqualTo(referenceMetrics.get("val_accuracy"));
        assertThat(m1).as("rank 1 does not validate").doesNotContainKey("val_accuracy");
        double steps = m0.get("steps");
        assertThat(steps).as("about 128 training tiles / 16").isBetween(6.0, 10.0);
        int n = rank0.length;
        assertThat(m0.get("allreduce_bytes")).as("2 (n-1)/n of the gradients (+2 floats) per step").isEqualTo(steps * 4 * (n + 2));
    }

    /**
     * The arithmetic both data-parallel paths share, against DJL's mean loss: the gradient of a batch's weighted loss
     * sum divided by its weight sum is the gradient of the mean loss the plain loop trains on. (Weights after whole
     * steps cannot show it: Adam's update hardly depends on the gradient's scale, and turns rounding differences of
     * near-zero gradients into differences of a learning rate.)
     */
    @Test
    void aBatchsLossSumOverItsWeightSumHasTheMeanLossesGradient() {
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
            java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
            float[] z = new float[12 * 5];
            for (int i = 0; i < z.length; i++) z[i] = (float) rng.nextGaussian();
            float[] labels = new float[12];
            for (int i = 0; i < labels.length; i++) labels[i] = rng.nextInt(5);
            WeightedCrossEntropy loss = new WeightedCrossEntropy(m.create(new float[] {0.5f, 1f, 2f, 1.5f, 0.8f}));
            float[][] grads = new float[2][];
            double[] values = new double[2];
            for (int k = 0; k < 2; k++) {
                ai.djl.ndarray.NDArray logits = m.create(z, new ai.djl.ndarray.types.Shape(12, 5));
                logits.setRequiresGradient(true);
                try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getEngine("PyTorch").newGradientCollector()) {
                    ai.djl.ndarray.NDList y = new ai.djl.ndarray.NDList(m.create(labels));
                    ai.djl.ndarray.NDArray l;
                    if (k == 0) {
                        l = loss.evaluate(y, new ai.djl.ndarray.NDList(logits));
                    } else {
                        ai.djl.ndarray.NDList sw = loss.sumAndWeight(y, new ai.djl.ndarray.NDList(logits));
                        l = sw.get(0).div(sw.get(1).getFloat());
                    }
                    gc.backward(l);
                    values[k] = l.getFloat();
                }
                grads[k] = logits.getGradient().toFloatArray();
            }
            assertThat(values[1]).isCloseTo(values[0], org.assertj.core.data.Offset.offset(1e-6));
            assertThat(maxRelativeDifference(grads[1], grads[0])).isLessThanOrEqualTo(1e-6);
            assertThat(maxRelativeDifference(grads[0], new float[grads[0].length])).as("a gradient at all").isPositive();
        }
    }

    @Test
    void aRingOfAnotherSizeThanTheRunIsRefusedByName() {
        List<CompletableFuture<Object[]>> ranks = ranks(2, (rank, ring) -> {
            try (TileClassifierTrainable t = new TileClassifierTrainable()) {
                t.setup(config(3, 1));
                t.dataParallel(ring);
                return null;
            }
        });
        for (CompletableFuture<Object[]> r : ranks) {
            assertThatThrownBy(r::join).hasCauseInstanceOf(TrainingException.class).cause().hasMessageContaining("configured for 3 workers but 2 ranks");
        }
    }

    @Test
    void moreWorkersThanTheBatchHoldsIsABadConfig() {
        Map<String, Object> c = config(17, 1);
        assertThatThrownBy(() -> TrainConfig.fromMap(c)).isInstanceOf(TrainingException.class).hasMessageContaining("workers=17");
    }

    /** max |a - b| / max |b|: relative to the weights' scale, so near-zero weights do not inflate it. */
    static double maxRelativeDifference(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double diff = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff / scale;
    }

    static <T> List<CompletableFuture<T>> ranks(int n, java.util.function.BiFunction<Integer, AllReduce, T> body) {
        List<RingAllReduce.Listener> listeners = IntStream.range(0, n).mapToObj(r -> RingAllReduce.listen("127.0.0.1")).toList();
        List<String> addresses = listeners.stream().map(RingAllReduce.Listener::address).toList();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<CompletableFuture<T>> out = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            out.add(CompletableFuture.supplyAsync(() -> {
                try (RingAllReduce ring = RingAllReduce.join(listeners.get(rank), rank, addresses, RingAllReduceTest.SECRET, Duration.ofSeconds(30))) {
                    return body.apply(rank, ring);
                }
            }, pool));
        }
        pool.shutdown();
        return out;
    }
}
