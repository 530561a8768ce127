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
import java.util.List;

/**
 * One layer of a Canopy architecture. A network is written once as a list of layers; the same list
 * builds the DJL block (to train, and to run on PyTorch) and the ONNX graph (to run on ONNX Runtime,
 * {@link OnnxExport}), so the two cannot drift apart.
 *
 * <p>The DJL structure each layer builds is fixed: parameter files are read in block order, so a
 * change here would make saved weights unreadable.
 */
public sealed interface Layer {
    /**
     * Square convolution, padding {@code kernel / 2}. Parameters: weight, and bias when {@code bias}. Canopy trains
     * without bias (a batch norm follows); {@link FoldedNetwork} adds one when it folds the norm in for inference.
     */
    record Conv(int filters, int kernel, int stride, boolean bias) implements Layer {
        public Conv(int filters, int kernel, int stride) {
            this(filters, kernel, stride, false);
        }
    }

    /** Batch normalisation over channels (running statistics at inference). Parameters: gamma, beta, runningMean, runningVar. */
    record Norm() implements Layer { }

    record Relu() implements Layer { }

    record MaxPool(int kernel, int stride, int pad) implements Layer { }

    record GlobalAvgPool() implements Layer { }

    record Flatten() implements Layer { }

    /** Fully connected layer. Parameters: weight ({@code units x inputs}), bias. */
    record Dense(int units) implements Layer { }

    /** {@code relu(main(x) + shortcut(x))}; an empty shortcut is the identity. */
    record Residual(List<Layer> main, List<Layer> shortcut) implements Layer {
        public Residual {
            main = List.copyOf(main);
            shortcut = List.copyOf(shortcut);
        }
    }

    /** The DJL block for these layers, in one {@link SequentialBlock}. */
    static SequentialBlock block(List<Layer> layers) {
        SequentialBlock net = new SequentialBlock();
        for (Layer l : layers) net.add(l.block());
        return net;
    }

    /** The DJL block of this one layer. */
    default Block block() {
        if (this instanceof Conv c) {
            return Conv2d.builder().setFilters(c.filters()).setKernelShape(new Shape(c.kernel(), c.kernel()))
                    .optStride(new Shape(c.stride(), c.stride())).optPadding(new Shape(c.kernel() / 2, c.kernel() / 2)).optBias(c.bias()).build();
        }
        if (this instanceof Norm) return BatchNorm.builder().build();
        if (this instanceof Relu) return Activation.reluBlock();
        if (this instanceof MaxPool p) {
            return Pool.maxPool2dBlock(new Shape(p.kernel(), p.kernel()), new Shape(p.stride(), p.stride()), new Shape(p.pad(), p.pad()));
        }
        if (this instanceof GlobalAvgPool) return Pool.globalAvgPool2dBlock();
        if (this instanceof Flatten) return Blocks.batchFlattenBlock();
        if (this instanceof Dense d) return Linear.builder().setUnits(d.units()).build();
        Residual r = (Residual) this;
        Block shortcut = r.shortcut().isEmpty() ? Blocks.identityBlock() : block(r.shortcut());
        return new SequentialBlock()
                .add(new ParallelBlock(Layer::sum, List.of(block(r.main()), shortcut)))
                .add(Activation.reluBlock());
    }

    private static NDList sum(List<NDList> branches) {
        NDArray a = branches.get(0).singletonOrThrow();
        NDArray b = branches.get(1).singletonOrThrow();
        return new NDList(a.add(b));
    }
}
