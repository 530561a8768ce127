package dev.canopy.model;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The networks Canopy can build and train, by the names users type ({@code small-cnn}, {@code resnet18}). */
public enum Architecture {
    /** Four conv blocks, about 0.3M parameters: fast enough for tests and tuning on a CPU. */
    SMALL_CNN("small-cnn", 64) {
        @Override
        public List<Layer> layers(int classes) {
            List<Layer> net = new ArrayList<>();
            int[] widths = {32, 64, 128, 128};
            for (int i = 0; i < widths.length; i++) {
                net.addAll(List.of(new Layer.Conv(widths[i], 3, 1), new Layer.Norm(), new Layer.Relu()));
                net.add(i < widths.length - 1 ? new Layer.MaxPool(2, 2, 0) : new Layer.GlobalAvgPool());
            }
            net.addAll(List.of(new Layer.Flatten(), new Layer.Dense(classes)));
            return net;
        }
    },
    /** ResNet-18 in torchvision's layout (basic residual blocks [2,2,2,2], 11.2M parameters for 5 classes). */
    RESNET18("resnet18", 224) {
        @Override
        public List<Layer> layers(int classes) {
            List<Layer> net = new ArrayList<>(List.of(new Layer.Conv(64, 7, 2), new Layer.Norm(), new Layer.Relu(), new Layer.MaxPool(3, 2, 1)));
            int[] widths = {64, 128, 256, 512};
            for (int stage = 0; stage < widths.length; stage++) {
                for (int b = 0; b < 2; b++) {
                    int stride = stage > 0 && b == 0 ? 2 : 1;
                    net.add(basicBlock(widths[stage], stride, stage > 0 && b == 0));
                }
            }
            net.addAll(List.of(new Layer.GlobalAvgPool(), new Layer.Flatten(), new Layer.Dense(classes)));
            return net;
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

    /** The network as layers: the one description both engines are built from. */
    public abstract List<Layer> layers(int classes);

    /** The DJL block (for training and the PyTorch engine). */
    public Block build(int classes) {
        return Layer.block(layers(classes));
    }

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

    /** conv-bn-relu-conv-bn plus identity (or a strided 1x1 projection), then relu. */
    static Layer basicBlock(int filters, int stride, boolean project) {
        List<Layer> main = List.of(new Layer.Conv(filters, 3, stride), new Layer.Norm(), new Layer.Relu(), new Layer.Conv(filters, 3, 1), new Layer.Norm());
        List<Layer> shortcut = project ? List.of(new Layer.Conv(filters, 1, stride), new Layer.Norm()) : List.of();
        return new Layer.Residual(main, shortcut);
    }
}
