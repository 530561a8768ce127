package dev.canopy.train;

import dev.canopy.api.train.AllReduce;
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

    private AllReduce ring = AllReduce.single();
    private int accumulate = 1;
    private boolean gradientsMade;

    /**
     * Synchronous data parallelism: each global batch of {@code batchSize} is cut into {@code ring.size()} slices
     * (this rank takes slice {@code ring.rank()}), or, with one rank and {@code accumulate} &gt; 1, into
     * {@code accumulate} sub-batches taken in turn. Either way the gradients of the slices are summed (by the ring, or
     * here) and divided by the global batch's weight sum before one update: the same update as the other way of
     * cutting the same global batch.
     */
    void dataParallel(AllReduce ring, int accumulate) {
        if (ring.size() > 1 && accumulate > 1) throw new IllegalArgumentException("ranks or accumulation, not both");
        this.ring = ring;
        this.accumulate = Math.max(1, accumulate);
    }

    /** Trains one epoch; returns epoch, train_loss, train_accuracy and images_per_second. */
    Map<String, Double> train(List<Sample> samples, int epoch, long seed, boolean augment, Progress progress) {
        long t0 = System.nanoTime();
        int[] order = shuffled(samples.size(), new SplittableRandom(seed * 1_000_003L + epoch));
        Long augSeed = augment ? seed * 7_919L + epoch : null;
        if (ring.size() > 1 || accumulate > 1) return trainSynchronous(samples, order, epoch, augSeed, progress, t0);
        double lossSum = 0;
        long seen = 0;
        int steps = 0;
        Confusion conf = new Confusion(classes.size());
        for (Iterator<TileLoader.Batch> it = loader.batches(samples, order, batchSize, augSeed); it.hasNext(); ) {
            TileLoader.Batch b = it.next();
            steps++;
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
        m.put("train_seconds", (System.nanoTime() - t0) / 1e9);
        m.put("steps", (double) steps);
        return m;
    }

    /**
     * The data-parallel epoch (see {@link #dataParallel}). A global batch smaller than the number of slices (the
     * epoch's last, at most) is left out, so that every slice has a sample and every rank takes every step. The
     * gradient lock is held for forward and backward and for the update, never across the ring's exchange: ranks of
     * one JVM (tests) would otherwise wait on each other for ever.
     */
    private Map<String, Double> trainSynchronous(List<Sample> samples, int[] order, int epoch, Long augSeed, Progress progress, long t0) {
        int slices = Math.max(ring.size(), accumulate);
        List<int[]> ranges = new java.util.ArrayList<>();
        for (int start = 0; start + slices <= order.length; start += batchSize) {
            int end = Math.min(order.length, start + batchSize);
            int length = end - start;
            for (int k = 0; k < slices; k++) {
                if (ring.size() > 1 && k != ring.rank()) continue;
                ranges.add(new int[] {start + length * k / slices, start + length * (k + 1) / slices});
            }
        }
        if (ranges.isEmpty() && !samples.isEmpty()) {
            throw new dev.canopy.api.train.TrainingException("train.too_few_tiles", samples.size() + " training tiles cannot feed " + slices
                    + " data-parallel slices", "use fewer workers or more tiles (max_tiles)");
        }
        List<ai.djl.nn.Parameter> params = new java.util.ArrayList<>();
        for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : trainer.getModel().getBlock().getParameters()) {
            if (p.getValue().requiresGradient()) params.add(p.getValue());
        }
        makeGradients();
        int size = 0;
        for (ai.djl.nn.Parameter p : params) size += (int) p.getArray().size();
        double lossSum = 0;
        double weightSum = 0;
        long seen = 0;
        Confusion conf = new Confusion(classes.size());
        int perStep = ring.size() > 1 ? 1 : slices;
        Iterator<TileLoader.Batch> it = loader.batches(samples, order, ranges, augSeed);
        long reduceNanos = 0;
        long bytesBefore = ring.bytesSent();
        int steps = 0;
        float[] flat = new float[size + 2]; // the gradients, then a step's weighted loss sum and weight sum
        while (it.hasNext()) {
            java.util.Arrays.fill(flat, 0f);
            for (int k = 0; k < perStep; k++) {
                TileLoader.Batch b = it.next();
                if (b.n() == 0) continue; // its tiles were all skipped: it adds nothing
                try (NDManager batch = trainer.getManager().newSubManager()) {
                    NDArray x = batch.create(b.x(), new Shape(b.n(), 3, inputSize, inputSize));
                    NDArray y = batch.create(b.y());
                    synchronized (GRADIENT_LOCK) {
                        zeroGradients(params); // PyTorch adds each backward into .grad: this slice's alone is wanted
                        try (GradientCollector gc = trainer.newGradientCollector()) {
                            NDArray logits = trainer.forward(new NDList(x)).singletonOrThrow();
                            NDList sw = ((WeightedCrossEntropy) trainer.getLoss()).sumAndWeight(new NDList(y), new NDList(logits));
                            gc.backward(sw.get(0));
                            flat[size] += sw.get(0).getFloat();
                            flat[size + 1] += sw.get(1).getFloat();
                            long[] pred = logits.argMax(1).toLongArray();
                            for (int i = 0; i < b.n(); i++) conf.add(b.y()[i], (int) pred[i]);
                        }
                        int at = 0;
                        for (ai.djl.nn.Parameter p : params) {
                            try (NDArray grad = p.getArray().getGradient()) { // a new wrapper per call: closed
                                float[] g = grad.toFloatArray();
                                for (int i = 0; i < g.length; i++) flat[at + i] += g[i];
                                at += g.length;
                            }
                        }
                    }
                }
                seen += b.n();
            }
            long r0 = System.nanoTime();
            ring.sum(flat); // outside the lock: the other ranks need it to reach this point
            reduceNanos += System.nanoTime() - r0;
            steps++;
            double stepWeight = flat[size + 1];
            lossSum += flat[size];
            weightSum += stepWeight;
            if (stepWeight <= 0) continue; // every tile of the global batch was skipped: no update anywhere
            synchronized (GRADIENT_LOCK) {
                int at = 0;
                try (NDManager step = trainer.getManager().newSubManager()) {
                    for (ai.djl.nn.Parameter p : params) {
                        try (NDArray g = p.getArray().getGradient()) {
                            int n = (int) g.size();
                            float[] part = new float[n];
                            for (int i = 0; i < n; i++) part[i] = (float) (flat[at + i] / stepWeight);
                            at += n;
                            g.muli(0).addi(step.create(part, g.getShape())); // in place: the optimizer reads this tensor's .grad
                        }
                    }
                    trainer.step();
                }
            }
            progress.batch("train", seen, samples.size(), weightSum == 0 ? 0 : lossSum / weightSum);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("epoch", (double) epoch);
        m.put("train_loss", weightSum == 0 ? Double.NaN : lossSum / weightSum); // the whole run's, every rank alike
        m.put("train_accuracy", conf.accuracy()); // this rank's slices
        m.put("images_per_second", seen / ((System.nanoTime() - t0) / 1e9));
        m.put("train_seconds", (System.nanoTime() - t0) / 1e9);
        m.put("steps", (double) steps);
        m.put("allreduce_seconds", reduceNanos / 1e9); // waiting for the other ranks included
        m.put("allreduce_bytes", (double) (ring.bytesSent() - bytesBefore)); // sent by this rank
        return m;
    }

    /**
     * PyTorch allocates a parameter's gradient at its first backward; until then DJL hands out a detached zero array,
     * so a rank whose first slice had no readable tile would write the summed gradient nowhere. One backward of zero
     * through the model in evaluation mode (batch-norm statistics untouched) allocates them all, as zeros.
     */
    private void makeGradients() {
        if (gradientsMade) return;
        synchronized (GRADIENT_LOCK) {
            try (NDManager m = trainer.getManager().newSubManager(); GradientCollector gc = trainer.newGradientCollector()) {
                NDArray x = m.zeros(new Shape(1, 3, inputSize, inputSize));
                NDArray out = trainer.getModel().getBlock().forward(new ai.djl.training.ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
                gc.backward(out.sum().mul(0));
            }
        }
        gradientsMade = true;
    }

    private static void zeroGradients(List<ai.djl.nn.Parameter> params) {
        for (ai.djl.nn.Parameter p : params) {
            if (!p.getArray().hasGradient()) continue;
            try (NDArray g = p.getArray().getGradient()) {
                g.muli(0);
            }
        }
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
