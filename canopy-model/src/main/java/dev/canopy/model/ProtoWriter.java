package dev.canopy.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Just enough of the protobuf wire format to write an ONNX model: varints, 32-bit floats and
 * length-delimited fields (strings, bytes, nested messages). Repeated scalars are written unpacked,
 * which every protobuf parser accepts for proto2 files such as {@code onnx.proto}.
 */
final class ProtoWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    ProtoWriter varint(int field, long v) {
        tag(field, 0);
        writeVarint(v);
        return this;
    }

    ProtoWriter float32(int field, float f) {
        tag(field, 5);
        int bits = Float.floatToRawIntBits(f);
        for (int i = 0; i < 4; i++) out.write(bits >>> (8 * i)); // little-endian
        return this;
    }

    ProtoWriter str(int field, String s) {
        return raw(field, s.getBytes(StandardCharsets.UTF_8));
    }

    ProtoWriter msg(int field, ProtoWriter m) {
        return raw(field, m.bytes());
    }

    ProtoWriter raw(int field, byte[] b) {
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
