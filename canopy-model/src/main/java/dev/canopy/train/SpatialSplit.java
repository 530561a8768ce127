package dev.canopy.train;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;

/**
 * Train/validation/test split by spatial blocks, so that neighbouring tiles never straddle splits: tiles
 * are grouped in blocks of {@code k × k} (by grid row and column), each block goes whole to one split by a
 * stable hash of (seed, block), and in training blocks the one-tile ring along the block's border is left
 * out, so no training tile touches a validation or test tile. With k = 8, 36 of a training block's 64 tiles
 * train (for k &lt; 3 there is no inner part and no ring is dropped).
 * <pre>
 *   SpatialSplit s = new SpatialSplit(8, 0.2, 0.2, 42);
 *   s.of(17, 3)   // TRAIN, VALIDATION, TEST, or RING (a training block's border: used nowhere)
 * </pre>
 */
public final class SpatialSplit {
    public enum Part { TRAIN, VALIDATION, TEST, RING }

    private final int k;
    private final double valFraction;
    private final double testFraction;
    private final long seed;

    public SpatialSplit(int k, double valFraction, double testFraction, long seed) {
        if (k < 1) throw new IllegalArgumentException("block size must be >= 1");
        if (valFraction <= 0 || testFraction <= 0 || valFraction + testFraction >= 1) throw new IllegalArgumentException("fractions must be > 0 and sum below 1");
        this.k = k;
        this.valFraction = valFraction;
        this.testFraction = testFraction;
        this.seed = seed;
    }

    public Part of(long row, long col) {
        long br = Math.floorDiv(row, k), bc = Math.floorDiv(col, k);
        double u = unit(br, bc);
        if (u < testFraction) return Part.TEST;
        if (u < testFraction + valFraction) return Part.VALIDATION;
        if (k >= 3) {
            long r = Math.floorMod(row, k), c = Math.floorMod(col, k);
            if (r == 0 || c == 0 || r == k - 1 || c == k - 1) return Part.RING;
        }
        return Part.TRAIN;
    }

    private double unit(long br, long bc) {
        CRC32 crc = new CRC32();
        crc.update(ByteBuffer.allocate(24).putLong(seed).putLong(br).putLong(bc).array());
        return (crc.getValue() & 0xffffffffL) / 4294967296.0;
    }
}
