package dev.canopy.imagery;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Little-endian ISO WKB for the only shape manifests store: an axis-aligned rectangle polygon. */
public final class Wkb {
    private Wkb() { }

    public static byte[] rectangle(double minX, double minY, double maxX, double maxY) {
        ByteBuffer b = ByteBuffer.allocate(1 + 4 + 4 + 4 + 5 * 16).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 1);      // little endian
        b.putInt(3);          // Polygon
        b.putInt(1);          // one ring
        b.putInt(5);          // closed ring of 5 points, counter-clockwise (exterior per OGC)
        double[][] pts = {{minX, minY}, {maxX, minY}, {maxX, maxY}, {minX, maxY}, {minX, minY}};
        for (double[] p : pts) {
            b.putDouble(p[0]);
            b.putDouble(p[1]);
        }
        return b.array();
    }
}
