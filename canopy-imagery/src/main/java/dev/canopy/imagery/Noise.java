package dev.canopy.imagery;

/**
 * Seeded, stateless value noise. Every value is a pure function of (seed, coordinates), which is
 * what lets the survey renderer draw any tile of an arbitrarily large orthomosaic on its own.
 */
final class Noise {
    private Noise() { }

    /** A well-mixed 64-bit hash (SplitMix64 finaliser). */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    static long hash(long seed, long x, long y) {
        return mix(seed * 0x9E3779B97F4A7C15L + x * 0xC2B2AE3D27D4EB4FL + y * 0x165667B19E3779F9L);
    }

    /** Uniform in [0, 1) for a lattice point. */
    static double lattice(long seed, long x, long y) {
        return (hash(seed, x, y) >>> 11) * 0x1.0p-53;
    }

    private static double smooth(double t) {
        return t * t * (3 - 2 * t);
    }

    /** Smoothly interpolated value noise in [0, 1). */
    static double value(long seed, double x, double y) {
        long x0 = (long) Math.floor(x);
        long y0 = (long) Math.floor(y);
        double fx = smooth(x - x0);
        double fy = smooth(y - y0);
        double a = lattice(seed, x0, y0);
        double b = lattice(seed, x0 + 1, y0);
        double c = lattice(seed, x0, y0 + 1);
        double d = lattice(seed, x0 + 1, y0 + 1);
        double top = a + (b - a) * fx;
        double bottom = c + (d - c) * fx;
        return top + (bottom - top) * fy;
    }

    /** Value noise whose lattice wraps every {@code period} cells, for seamless textures. */
    static double periodic(long seed, double x, double y, int period) {
        return periodic(seed, x, y, period, period);
    }

    static double periodic(long seed, double x, double y, int periodX, int periodY) {
        long x0 = (long) Math.floor(x);
        long y0 = (long) Math.floor(y);
        double fx = smooth(x - x0);
        double fy = smooth(y - y0);
        long xa = Math.floorMod(x0, periodX), xb = Math.floorMod(x0 + 1, periodX);
        long ya = Math.floorMod(y0, periodY), yb = Math.floorMod(y0 + 1, periodY);
        double a = lattice(seed, xa, ya);
        double b = lattice(seed, xb, ya);
        double c = lattice(seed, xa, yb);
        double d = lattice(seed, xb, yb);
        double top = a + (b - a) * fx;
        double bottom = c + (d - c) * fx;
        return top + (bottom - top) * fy;
    }

    /** Fractal sum of {@code octaves} layers, normalised to about [0, 1). */
    static double fbm(long seed, double x, double y, int octaves) {
        double sum = 0, amp = 1, norm = 0, f = 1;
        for (int o = 0; o < octaves; o++) {
            sum += amp * value(seed + o * 1013, x * f, y * f);
            norm += amp;
            amp *= 0.5;
            f *= 2.0;
        }
        return sum / norm;
    }
}
