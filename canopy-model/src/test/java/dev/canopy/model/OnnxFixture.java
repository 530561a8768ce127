package dev.canopy.model;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

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
        Msg graph = new Msg();
        graph.msg(1, node(new String[] {"x"}, new String[] {"pooled"}, "pool", "GlobalAveragePool", null));
        graph.msg(1, node(new String[] {"pooled"}, new String[] {"flat"}, "flatten", "Flatten", new Msg().str(1, "axis").varint(20, 2).varint(3, 1)));
        graph.msg(1, node(new String[] {"flat", "W", "b"}, new String[] {"logits"}, "gemm", "Gemm", null));
        graph.str(2, "canopy-onnx-fixture");
        graph.msg(5, tensor("W", new long[] {3, classes}, weights(classes)));
        graph.msg(5, tensor("b", new long[] {classes}, bias(classes)));
        graph.msg(11, valueInfo("x", new Object[] {"N", 3L, (long) size, (long) size}));
        graph.msg(12, valueInfo("logits", new Object[] {"N", (long) classes}));
        return new Msg().varint(1, 8).str(2, "canopy-test").msg(7, graph).msg(8, new Msg().str(1, "").varint(2, 13)).bytes();
    }

    private static Msg node(String[] in, String[] out, String name, String op, Msg attribute) {
        Msg n = new Msg();
        for (String i : in) n.str(1, i);
        for (String o : out) n.str(2, o);
        n.str(3, name).str(4, op);
        if (attribute != null) n.msg(5, attribute);
        return n;
    }

    private static Msg tensor(String name, long[] dims, float[] data) {
        Msg t = new Msg();
        for (long d : dims) t.varint(1, d);
        t.varint(2, 1); // FLOAT
        t.str(8, name);
        ByteBuffer raw = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : data) raw.putFloat(f);
        return t.raw(9, raw.array());
    }

    private static Msg valueInfo(String name, Object[] dims) {
        Msg shape = new Msg();
        for (Object d : dims) shape.msg(1, d instanceof String s ? new Msg().str(2, s) : new Msg().varint(1, (Long) d));
        Msg tensorType = new Msg().varint(1, 1).msg(2, shape);
        return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType));
    }

    /** Just enough protobuf: varints and length-delimited fields. */
    static final class Msg {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Msg varint(int field, long v) {
            tag(field, 0);
            writeVarint(v);
            return this;
        }

        Msg str(int field, String s) {
            return raw(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Msg msg(int field, Msg m) {
            return raw(field, m.bytes());
        }

        Msg raw(int field, byte[] b) {
            tag(field, 2);
            writeVarint(b.length);
            out.writeBytes(b);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private void tag(int field, int wire) {
            writeVarint(((long) field << 3) | wire);
        }

        private void writeVarint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }
    }
}
