package dev.canopy.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes a tiny but real ONNX model by encoding its protobuf by hand (no Python or onnx package is
 * available here): x[N,3,S,S] -> GlobalAveragePool -> Flatten -> Gemm(W[3,C], b[C]) -> logits[N,C].
 * Its output is easy to compute independently: logits = mean-per-channel(x) . W + b.
 */
final class OnnxFixture {
    private OnnxFixture() { }

    static float[] weights(int classes) {
        float[] w = new float[3 * classes];
        for (int i = 0; i < w.length; i++) w[i] = (float) Math.sin(i + 1);
        return w;
    }

    static float[] bias(int classes) {
        float[] b = new float[classes];
        for (int i = 0; i < classes; i++) b[i] = 0.1f * i;
        return b;
    }

    static byte[] model(int classes, int size) {
        ProtoWriter graph = new ProtoWriter();
        graph.msg(1, node(new String[] {"x"}, new String[] {"pooled"}, "pool", "GlobalAveragePool", null));
        graph.msg(1, node(new String[] {"pooled"}, new String[] {"flat"}, "flatten", "Flatten", new ProtoWriter().str(1, "axis").varint(20, 2).varint(3, 1)));
        graph.msg(1, node(new String[] {"flat", "W", "b"}, new String[] {"logits"}, "gemm", "Gemm", null));
        graph.str(2, "canopy-onnx-fixture");
        graph.msg(5, tensor("W", new long[] {3, classes}, weights(classes)));
        graph.msg(5, tensor("b", new long[] {classes}, bias(classes)));
        graph.msg(11, OnnxExport.valueInfo("x", new Object[] {"N", 3L, (long) size, (long) size}));
        graph.msg(12, OnnxExport.valueInfo("logits", new Object[] {"N", (long) classes}));
        return new ProtoWriter().varint(1, 8).str(2, "canopy-test").msg(7, graph).msg(8, new ProtoWriter().str(1, "").varint(2, 13)).bytes();
    }

    private static ProtoWriter node(String[] in, String[] out, String name, String op, ProtoWriter attribute) {
        ProtoWriter n = new ProtoWriter();
        for (String i : in) n.str(1, i);
        for (String o : out) n.str(2, o);
        n.str(3, name).str(4, op);
        if (attribute != null) n.msg(5, attribute);
        return n;
    }

    private static ProtoWriter tensor(String name, long[] dims, float[] data) {
        ProtoWriter t = new ProtoWriter();
        for (long d : dims) t.varint(1, d);
        t.varint(2, 1); // FLOAT
        t.str(8, name);
        ByteBuffer raw = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : data) raw.putFloat(f);
        return t.raw(9, raw.array());
    }

}
