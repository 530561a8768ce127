package dev.canopy.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * A trained network rewritten for inference: every batch norm that follows a convolution is folded
 * into that convolution's weight and bias (eval mode: {@code w' = w * g / sqrt(var + eps)},
 * {@code b' = beta - mean * g / sqrt(var + eps)}), so it costs nothing at run time. Both engines run
 * this form: the PyTorch engine as a DJL block ({@link #block}), ONNX Runtime as a graph ({@link OnnxExport}).
 *
 * <p>Why: measured on the 2-core machine, DJL's batch norm took more than half of ResNet-18's time
 * at 224 px (19 img/s with it, 49 without, batch 1); see docs/benchmarks.md.
 *
 * @param layers     the inference layers ({@link Layer.Conv} with bias where a norm was folded)
 * @param parameters every parameter of {@code layers} in DJL's block order, as flat float arrays
 */
public record FoldedNetwork(List<Layer> layers, List<float[]> parameters) {
    /** DJL's batch-norm default (BatchNorm.Builder), the value Canopy trains with. */
    static final float BATCH_NORM_EPSILON = 1e-5f;

    /** Reads a Canopy parameter file ({@code weights.params}) of {@code card}'s architecture and folds it. */
    public static FoldedNetwork of(ModelCard card, byte[] parameterFile) {
        Architecture arch = Architecture.of(card.architecture());
        int classes = card.classes().size();
        List<Pair<String, float[]>> params = new ArrayList<>();
        try (NDManager m = Engines.newManager()) {
            Block block = arch.build(classes);
            block.initialize(m, DataType.FLOAT32, new Shape(1, 3, card.inputSize(), card.inputSize()));
            List<Shape> expected = block.getParameters().values().stream().map(p -> p.getArray().getShape()).toList();
            block.loadParameters(m, new DataInputStream(new ByteArrayInputStream(parameterFile)));
            int i = 0;
            for (Pair<String, Parameter> p : block.getParameters()) {
                Shape got = p.getValue().getArray().getShape();
                // DJL does not check shapes when it loads: a file for another class count would load and compute nonsense
                if (!got.equals(expected.get(i++))) {
                    throw new ModelException("model.corrupt_weights", "the weights of model '" + card.name() + "' do not fit " + arch.id() + " with "
                            + classes + " classes: parameter " + p.getKey() + " has shape " + got + ", expected " + expected.get(i - 1),
                            "register the weights with the architecture and class list they were trained for");
                }
                params.add(new Pair<>(p.getKey(), p.getValue().getArray().toFloatArray()));
            }
        } catch (ModelException e) {
            throw e;
        } catch (Exception e) {
            throw new ModelException("model.corrupt_weights", "cannot read the weights of model '" + card.name() + "': " + e.getMessage(),
                    "the package is damaged or was made for another architecture/class count; re-export it", e);
        }
        Iterator<Pair<String, float[]>> it = params.iterator();
        List<float[]> out = new ArrayList<>();
        List<Layer> layers = fold(arch.layers(classes), it, out);
        if (it.hasNext()) throw new IllegalStateException("parameter " + it.next().getKey() + " has no layer in " + arch.id());
        return new FoldedNetwork(List.copyOf(layers), List.copyOf(out));
    }

    private static List<Layer> fold(List<Layer> layers, Iterator<Pair<String, float[]>> in, List<float[]> out) {
        List<Layer> result = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof Layer.Conv c) {
                float[] w = next(in, "weight");
                float[] bias = c.bias() ? next(in, "bias") : new float[c.filters()];
                if (i + 1 < layers.size() && layers.get(i + 1) instanceof Layer.Norm) {
                    foldNorm(w, bias, c.filters(), in);
                    i++; // the norm is inside the conv now
                }
                out.add(w);
                out.add(bias);
                result.add(new Layer.Conv(c.filters(), c.kernel(), c.stride(), true));
            } else if (l instanceof Layer.Norm) {
                for (String k : new String[] {"gamma", "beta", "runningMean", "runningVar"}) out.add(next(in, k));
                result.add(l);
            } else if (l instanceof Layer.Dense) {
                out.add(next(in, "weight"));
                out.add(next(in, "bias"));
                result.add(l);
            } else if (l instanceof Layer.Residual r) {
                List<Layer> main = fold(r.main(), in, out);
                List<Layer> shortcut = fold(r.shortcut(), in, out);
                result.add(new Layer.Residual(main, shortcut));
            } else {
                result.add(l);
            }
        }
        return result;
    }

    private static void foldNorm(float[] w, float[] bias, int filters, Iterator<Pair<String, float[]>> in) {
        float[] gamma = next(in, "gamma");
        float[] beta = next(in, "beta");
        float[] mean = next(in, "runningMean");
        float[] var = next(in, "runningVar");
        int per = w.length / filters;
        for (int o = 0; o < filters; o++) {
            double scale = gamma[o] / Math.sqrt(var[o] + (double) BATCH_NORM_EPSILON);
            for (int k = 0; k < per; k++) w[o * per + k] = (float) (w[o * per + k] * scale);
            bias[o] = (float) (beta[o] + (bias[o] - mean[o]) * scale);
        }
    }

    private static float[] next(Iterator<Pair<String, float[]>> in, String kind) {
        if (!in.hasNext()) throw new IllegalStateException("the block has fewer parameters than its layers need (wanted " + kind + ")");
        Pair<String, float[]> p = in.next();
        if (!p.getKey().endsWith("_" + kind)) throw new IllegalStateException("expected a " + kind + " parameter, found " + p.getKey());
        return p.getValue();
    }

    /**
     * The DJL block of the folded network with its parameters set, on {@code manager}, frozen (no
     * gradients are recorded).
     */
    public Block block(NDManager manager, int inputSize) {
        Block b = Layer.block(layers);
        b.initialize(manager, DataType.FLOAT32, new Shape(1, 3, inputSize, inputSize));
        Iterator<float[]> values = parameters.iterator();
        for (Pair<String, Parameter> p : b.getParameters()) {
            float[] v = values.next();
            p.getValue().getArray().set(v);
        }
        if (values.hasNext()) throw new IllegalStateException("the folded network has more parameters than its block");
        b.freezeParameters(true);
        return b;
    }
}
