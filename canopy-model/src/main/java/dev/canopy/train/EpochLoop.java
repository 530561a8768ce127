package dev.canopy.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One epoch of training and one pass of validation over batches from a {@link TileLoader}. The epoch
 * order and augmentation derive from (seed, epoch) only, so an epoch is the same whether the run was
 * resumed or not. Arrays of each batch live in a sub-manager closed after the batch (no growth).
 *
 * <p>DJL's PyTorch engine allows one gradient collector per process at a time, so concurrent loops
 * (tuning trials on one JVM) take turns for forward+backward+update through {@link #GRADIENT_LOCK};
 * data loading still overlaps. One thread drives a loop.
 */
final class EpochLoop {
    /** Held for each forward+backward+update, and while seeding and initialising a model. */
    static final Object GRADIENT_LOCK = new Object();

    /** Receives per-batch progress; called on the driving thread. */
    interface Progress {
        void batch(String phase, long imagesDone, long imagesTotal, double runningLoss);
    }

    private final Trainer trainer;
    private final TileLoader loader;
    private final int inputSize;
    private final int batchSize;
    private final List<String> classes;

    EpochLoop(Trainer trainer, TileLoader loader, int inputSize, int batchSize, List<String> classes) {
        this.trainer = trainer;
        this.loader = loader;
        this.inputSize = inputSize;
        this.batchSize = batchSize;
        this.classes = classes;
    }

    /** Trains one epoch; returns epoch, train_loss, train_accuracy and images_per_second. */
    Map<String, Double> train(List<Sample> samples, int epoch, long seed, boolean augment, Progress progress) {
        long t0 = System.nanoTime();
        int[] order = shuffled(samples.size(), new SplittableRandom(seed * 1_000_003L + epoch));
        Long augSeed = augment ? seed * 7_919L + epoch : null;
        double lossSum = 0;
        long seen = 0;
        Confusion conf = new Confusion(classes.size());
        for (Iterator<TileLoader.Batch> it = loader.batches(samples, order, batchSize, augSeed); it.hasNext(); ) {
            TileLoader.Batch b = it.next();
            try (NDManager batch = trainer.getManager().newSubManager()) {
                NDArray x = batch.create(b.x(), new Shape(b.n(), 3, inputSize, inputSize));
                NDArray y = batch.create(b.y());
                synchronized (GRADIENT_LOCK) {
                    try (GradientCollector gc = trainer.newGradientCollector()) {
                        NDArray logits = trainer.forward(new NDList(x)).singletonOrThrow();
                        NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(logits));
                        gc.backward(loss);
                        lossSum += loss.getFloat() * b.n();
                        long[] pred = logits.argMax(1).toLongArray();
                        for (int i = 0; i < b.n(); i++) conf.add(b.y()[i], (int) pred[i]);
                    }
                    trainer.step();
                }
            }
            seen += b.n();
            progress.batch("train", seen, samples.size(), lossSum / seen);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("epoch", (double) epoch);
        m.put("train_loss", seen == 0 ? Double.NaN : lossSum / seen);
        m.put("train_accuracy", conf.accuracy());
        m.put("images_per_second", seen / ((System.nanoTime() - t0) / 1e9));
        return m;
    }

    private long[][] lastConfusion;

    /** The confusion matrix of the last {@link #validate} ({@code [truth][predicted]}), null before one. */
    long[][] lastConfusion() {
        return lastConfusion;
    }

    /** Validation loss and the confusion-matrix metrics ({@code val_accuracy}, per-class and macro F1). */
    Map<String, Double> validate(List<Sample> samples, Progress progress) {
        int[] order = new int[samples.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Confusion conf = new Confusion(classes.size());
        double lossSum = 0;
        long seen = 0;
        for (Iterator<TileLoader.Batch> it = loader.batches(samples, order, batchSize, null); it.hasNext(); ) {
            TileLoader.Batch b = it.next();
            try (NDManager batch = trainer.getManager().newSubManager()) {
                NDArray x = batch.create(b.x(), new Shape(b.n(), 3, inputSize, inputSize));
                NDArray y = batch.create(b.y());
                NDArray logits = trainer.evaluate(new NDList(x)).singletonOrThrow();
                lossSum += trainer.getLoss().evaluate(new NDList(y), new NDList(logits)).getFloat() * b.n();
                long[] pred = logits.argMax(1).toLongArray();
                for (int i = 0; i < b.n(); i++) conf.add(b.y()[i], (int) pred[i]);
            }
            seen += b.n();
            progress.batch("validate", seen, samples.size(), lossSum / seen);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("val_loss", seen == 0 ? Double.NaN : lossSum / seen);
        m.putAll(conf.metrics("val", classes));
        lastConfusion = conf.matrix();
        return m;
    }

    static int[] shuffled(int n, SplittableRandom rng) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
