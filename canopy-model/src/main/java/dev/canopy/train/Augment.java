package dev.canopy.train;

import java.util.SplittableRandom;

/**
 * Augmentation that suits nadir aerial imagery: there is no "up", so any of the 8 flips/rotations
 * is as plausible as the original; exposure varies between captures, so brightness is jittered.
 * Works on packed RGB pixels of a square tile.
 */
public final class Augment {
    public static final double DEFAULT_BRIGHTNESS = 0.15;

    private Augment() { }

    public static int[] apply(int[] px, int size, SplittableRandom rng, double brightness) {
        int rot = rng.nextInt(4);
        boolean flip = rng.nextBoolean();
        double gain = 1 + (rng.nextDouble() * 2 - 1) * brightness;
        int[] out = new int[px.length];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int sx = flip ? size - 1 - x : x, sy = y;
                int tx, ty;
                switch (rot) {
                    case 1 -> { tx = size - 1 - sy; ty = sx; }
                    case 2 -> { tx = size - 1 - sx; ty = size - 1 - sy; }
                    case 3 -> { tx = sy; ty = size - 1 - sx; }
                    default -> { tx = sx; ty = sy; }
                }
                out[y * size + x] = scale(px[ty * size + tx], gain);
            }
        }
        return out;
    }

    private static int scale(int p, double g) {
        int r = clamp((int) Math.round(((p >> 16) & 0xFF) * g));
        int gr = clamp((int) Math.round(((p >> 8) & 0xFF) * g));
        int b = clamp((int) Math.round((p & 0xFF) * g));
        return (r << 16) | (gr << 8) | b;
    }

    private static int clamp(int v) {
        return v < 0 ? 0 : Math.min(255, v);
    }
}
