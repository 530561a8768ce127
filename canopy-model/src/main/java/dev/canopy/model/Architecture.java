package dev.canopy.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The networks Canopy can build and train, by the names users type ({@code small-cnn}, {@code resnet18}). */
public enum Architecture {
    /** Four conv blocks, about 0.3M parameters: fast enough for tests and tuning on a CPU. */
    SMALL_CNN("small-cnn", 64) {
        @Override
        public Block build(int classes) {
            SequentialBlock net = new SequentialBlock();
            int[] widths = {32, 64, 128, 128};
            for (int i = 0; i < widths.length; i++) {
                net.add(conv(widths[i], 3, 1)).add(bn()).add(Activation.reluBlock());
                net.add(i < widths.length - 1 ? Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)) : Pool.globalAvgPool2dBlock());
            }
            return net.add(Blocks.batchFlattenBlock()).add(Linear.builder().setUnits(classes).build());
        }
    },
    /** ResNet-18 in torchvision's layout (basic residual blocks [2,2,2,2], 11.2M parameters for 5 classes). */
    RESNET18("resnet18", 224) {
        @Override
        public Block build(int classes) {
            SequentialBlock net = new SequentialBlock()
                    .add(conv(64, 7, 2)).add(bn()).add(Activation.reluBlock())
                    .add(Pool.maxPool2dBlock(new Shape(3, 3), new Shape(2, 2), new Shape(1, 1)));
            int[] widths = {64, 128, 256, 512};
            for (int stage = 0; stage < widths.length; stage++) {
                for (int b = 0; b < 2; b++) {
                    int stride = stage > 0 && b == 0 ? 2 : 1;
                    net.add(basicBlock(widths[stage], stride, stage > 0 && b == 0));
                }
            }
            return net.add(Pool.globalAvgPool2dBlock()).add(Blocks.batchFlattenBlock()).add(Linear.builder().setUnits(classes).build());
        }
    };

    private final String id;
    private final int defaultInputSize;

    Architecture(String id, int defaultInputSize) {
        this.id = id;
        this.defaultInputSize = defaultInputSize;
    }

    public String id() {
        return id;
    }

    public int defaultInputSize() {
        return defaultInputSize;
    }

    public abstract Block build(int classes);

    /** Freshly initialised (untrained) weights, seeded: for benchmarks and pipeline tests where accuracy does not matter. */
    public byte[] initialWeights(int classes, int inputSize, int seed) {
        Engines.pytorch().setRandomSeed(seed);
        try (ai.djl.ndarray.NDManager m = Engines.newManager()) {
            Block b = build(classes);
            b.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            try (java.io.DataOutputStream d = new java.io.DataOutputStream(out)) {
                b.saveParameters(d);
            }
            return out.toByteArray();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public static Architecture of(String id) {
        String k = id.toLowerCase(Locale.ROOT).replace('_', '-');
        for (Architecture a : values()) if (a.id.equals(k)) return a;
        throw new ModelException("model.unknown_architecture", "unknown model '" + id + "'",
                "choose one of " + Arrays.stream(values()).map(Architecture::id).toList());
    }

    static Conv2d conv(int filters, int kernel, int stride) {
        return Conv2d.builder().setFilters(filters).setKernelShape(new Shape(kernel, kernel))
                .optStride(new Shape(stride, stride)).optPadding(new Shape(kernel / 2, kernel / 2)).optBias(false).build();
    }

    static BatchNorm bn() {
        return BatchNorm.builder().build();
    }

    /** conv-bn-relu-conv-bn plus identity (or a strided 1x1 projection), then relu. */
    static Block basicBlock(int filters, int stride, boolean project) {
        SequentialBlock main = new SequentialBlock()
                .add(conv(filters, 3, stride)).add(bn()).add(Activation.reluBlock())
                .add(conv(filters, 3, 1)).add(bn());
        Block shortcut = project
                ? new SequentialBlock().add(Conv2d.builder().setFilters(filters).setKernelShape(new Shape(1, 1))
                        .optStride(new Shape(stride, stride)).optBias(false).build()).add(bn())
                : Blocks.identityBlock();
        return new SequentialBlock()
                .add(new ParallelBlock(Architecture::sum, List.of(main, shortcut)))
                .add(Activation.reluBlock());
    }

    private static NDList sum(List<NDList> branches) {
        NDArray a = branches.get(0).singletonOrThrow();
        NDArray b = branches.get(1).singletonOrThrow();
        return new NDList(a.add(b));
    }
}
