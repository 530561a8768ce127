package dev.canopy.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Iterator;
import java.util.List;

/**
 * Writes a Canopy architecture with its trained parameters as an ONNX model (opset 17), so that ONNX
 * Runtime can run it. The graph comes from the same {@link Layer} list that builds the DJL block, with
 * batch norms folded into convolutions ({@link FoldedNetwork}).
 *
 * <p>Worked example (small CNN, 5 classes): {@code conv(32) -> norm -> relu -> maxpool} becomes one
 * {@code Conv} node whose weight and bias already hold the batch norm (eval mode: {@code w' = w * g /
 * sqrt(var + eps)}, {@code b' = beta - mean * g / sqrt(var + eps)}), a {@code Relu} and a {@code MaxPool};
 * {@code globalAvgPool -> flatten -> dense(5)} becomes {@code GlobalAveragePool -> Flatten -> Gemm}
 * with {@code transB = 1}. The graph's input is {@code images [N, 3, S, S]}, its output {@code logits [N, 5]}.
 */
public final class OnnxExport {
    static final int OPSET = 17;
    static final int IR_VERSION = 8;
    public static final String INPUT = "images";
    public static final String OUTPUT = "logits";

    private final ProtoWriter graph = new ProtoWriter();
    private final Iterator<float[]> params;
    private int names;

    private OnnxExport(List<float[]> params) {
        this.params = params.iterator();
    }

    /** The ONNX model of a Canopy-trained package ({@code format: djl}) from its parameter file. */
    public static byte[] export(ModelCard card, byte[] parameterFile) {
        return export(card, FoldedNetwork.of(card, parameterFile));
    }

    /** The ONNX model of a folded network with {@code card}'s input size and classes. */
    public static byte[] export(ModelCard card, FoldedNetwork net) {
        OnnxExport x = new OnnxExport(net.parameters());
        String out = x.layers(net.layers(), INPUT, 3);
        if (x.params.hasNext()) throw new IllegalStateException("the folded network has more parameters than its layers");
        x.graph.str(2, "canopy-" + card.architecture());
        x.graph.msg(11, valueInfo(INPUT, new Object[] {"N", 3L, (long) card.inputSize(), (long) card.inputSize()}));
        x.graph.msg(12, valueInfo(x.rename(out), new Object[] {"N", (long) card.classes().size()}));
        return new ProtoWriter().varint(1, IR_VERSION).str(2, "canopy").str(3, dev.canopy.api.CodeVersion.get())
                .msg(8, new ProtoWriter().str(1, "").varint(2, OPSET)).msg(7, x.graph).bytes();
    }

    /** Emits the nodes of {@code layers} reading {@code input} (with {@code channels} channels); returns the output's name. */
    private String layers(List<Layer> layers, String input, int channels) {
        String x = input;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof Layer.Conv c) {
                String wName = tensor(params.next(), c.filters(), channels, c.kernel(), c.kernel());
                String[] inputs = c.bias() ? new String[] {x, wName, tensor(params.next(), c.filters())} : new String[] {x, wName};
                int p = c.kernel() / 2;
                x = node("Conv", inputs, ints("kernel_shape", c.kernel(), c.kernel()), ints("strides", c.stride(), c.stride()), ints("pads", p, p, p, p));
                channels = c.filters();
            } else if (l instanceof Layer.Norm) {
                String[] inputs = {x, tensor(params.next(), channels), tensor(params.next(), channels), tensor(params.next(), channels),
                        tensor(params.next(), channels)}; // gamma, beta, mean, var: DJL's order is ONNX's
                x = node("BatchNormalization", inputs, new ProtoWriter().str(1, "epsilon").varint(20, 1).float32(2, FoldedNetwork.BATCH_NORM_EPSILON));
            } else if (l instanceof Layer.Relu) {
                x = node("Relu", new String[] {x});
            } else if (l instanceof Layer.MaxPool p) {
                x = node("MaxPool", new String[] {x}, ints("kernel_shape", p.kernel(), p.kernel()), ints("strides", p.stride(), p.stride()),
                        ints("pads", p.pad(), p.pad(), p.pad(), p.pad()));
            } else if (l instanceof Layer.GlobalAvgPool) {
                x = node("GlobalAveragePool", new String[] {x});
            } else if (l instanceof Layer.Flatten) {
                x = node("Flatten", new String[] {x}, new ProtoWriter().str(1, "axis").varint(20, 2).varint(3, 1));
            } else if (l instanceof Layer.Dense d) {
                x = node("Gemm", new String[] {x, tensor(params.next(), d.units(), channels), tensor(params.next(), d.units())},
                        new ProtoWriter().str(1, "transB").varint(20, 2).varint(3, 1));
                channels = d.units();
            } else {
                Layer.Residual r = (Layer.Residual) l;
                String main = layers(r.main(), x, channels);
                String shortcut = r.shortcut().isEmpty() ? x : layers(r.shortcut(), x, channels);
                x = node("Relu", new String[] {node("Add", new String[] {main, shortcut})});
                channels = outChannels(r.main(), channels);
            }
        }
        return x;
    }

    private static int outChannels(List<Layer> layers, int channels) {
        for (Layer l : layers) {
            if (l instanceof Layer.Conv c) channels = c.filters();
            if (l instanceof Layer.Dense d) channels = d.units();
        }
        return channels;
    }

    private String node(String op, String[] inputs, ProtoWriter... attributes) {
        String out = op.toLowerCase(java.util.Locale.ROOT) + "_" + (names++);
        ProtoWriter n = new ProtoWriter();
        for (String i : inputs) n.str(1, i);
        n.str(2, out).str(3, out).str(4, op);
        for (ProtoWriter a : attributes) n.msg(5, a);
        graph.msg(1, n);
        return out;
    }

    /** The graph's output gets its public name through an Identity node. */
    private String rename(String from) {
        ProtoWriter n = new ProtoWriter().str(1, from).str(2, OUTPUT).str(3, OUTPUT).str(4, "Identity");
        graph.msg(1, n);
        return OUTPUT;
    }

    private String tensor(float[] data, long... dims) {
        long n = 1;
        for (long d : dims) n *= d;
        if (n != data.length) throw new IllegalStateException("a parameter of " + data.length + " values does not fit shape " + java.util.Arrays.toString(dims));
        String name = "p" + (names++);
        ProtoWriter t = new ProtoWriter();
        for (long d : dims) t.varint(1, d);
        t.varint(2, 1); // FLOAT
        t.str(8, name);
        ByteBuffer raw = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        raw.asFloatBuffer().put(data);
        graph.msg(5, t.raw(9, raw.array()));
        return name;
    }

    private static ProtoWriter ints(String name, long... values) {
        ProtoWriter a = new ProtoWriter().str(1, name).varint(20, 7); // INTS
        for (long v : values) a.varint(8, v);
        return a;
    }

    static ProtoWriter valueInfo(String name, Object[] dims) {
        ProtoWriter shape = new ProtoWriter();
        for (Object d : dims) shape.msg(1, d instanceof String s ? new ProtoWriter().str(2, s) : new ProtoWriter().varint(1, (Long) d));
        ProtoWriter tensorType = new ProtoWriter().varint(1, 1).msg(2, shape);
        return new ProtoWriter().str(1, name).msg(2, new ProtoWriter().msg(1, tensorType));
    }
}
