package dev.canopy.imagery;

/**
 * Draws any tile of a virtual orthomosaic from continuous, seeded fields, so tiles can be rendered
 * independently, in parallel and in constant memory whatever the survey size.
 *
 * <p>Fields: one fractal "suitability" score per class decides the region map (argmax wins);
 * a slow illumination field adds cloud shadow and terrain shading; per-class periodic textures give
 * each cover its look; per-pixel noise mimics sensor noise; a per-tile gain mimics exposure changes
 * between captures. Scores and light are evaluated on a coarse grid and interpolated, which keeps
 * the cost per pixel to a handful of multiplications.
 */
public final class SurveyRenderer {
    static final int TEXTURE_SIZE = 512; // power of two: wrap with a mask
    private static final int GRID_STEP = 8;
    private static final double[] CLASS_BIAS = {0.03, 0.0, 0.0, 0.0, -0.02};

    private final long seed;
    private final int tileSize;
    private final double regionScale;
    private final double lightScale;
    private final float[][] textures; // per class, TEXTURE_SIZE^2 values in [0,1]

    public SurveyRenderer(long seed, int tileSize) {
        if (tileSize < 16 || tileSize > 4096) throw new IllegalArgumentException("tile size must be 16..4096, got " + tileSize);
        if (tileSize % GRID_STEP != 0) throw new IllegalArgumentException("tile size must be a multiple of " + GRID_STEP + ", got " + tileSize);
        this.seed = seed;
        this.tileSize = tileSize;
        this.regionScale = 1.6 * tileSize;
        this.lightScale = 7.0 * tileSize;
        this.textures = new float[LandCover.values().length][];
        for (LandCover c : LandCover.values()) textures[c.ordinal()] = texture(c, seed);
    }

    public int tileSize() {
        return tileSize;
    }

    /** One rendered tile: packed RGB pixels (row-major), the fraction of each class and the dominant class. */
    public record Tile(int[] rgb, float[] cover, LandCover dominant) { }

    public Tile render(int col, int row) {
        int n = LandCover.values().length;
        int g = tileSize / GRID_STEP + 1;
        long gx0 = (long) col * tileSize;
        long gy0 = (long) row * tileSize;
        float[][] score = new float[n][g * g];
        float[] light = new float[g * g];
        for (int j = 0; j < g; j++) {
            for (int i = 0; i < g; i++) {
                double x = gx0 + (long) i * GRID_STEP;
                double y = gy0 + (long) j * GRID_STEP;
                // a slow domain warp bends region borders so they are not noise-lattice aligned
                double wx = x / regionScale + 0.6 * (Noise.value(seed ^ 0x5EED, x / (2.5 * regionScale), y / (2.5 * regionScale)) - 0.5);
                double wy = y / regionScale + 0.6 * (Noise.value(seed ^ 0xFEED, x / (2.5 * regionScale), y / (2.5 * regionScale)) - 0.5);
                for (int c = 0; c < n; c++) {
                    score[c][j * g + i] = (float) (Noise.fbm(seed + 7919L * (c + 1), wx, wy, 3) + CLASS_BIAS[c]);
                }
                light[j * g + i] = (float) (0.78 + 0.36 * Noise.fbm(seed ^ 0x11647L, x / lightScale, y / lightScale, 2));
            }
        }
        double gain = 0.92 + 0.16 * Noise.lattice(seed ^ 0xCA9L, col, row); // exposure of this capture
        int[] rgb = new int[tileSize * tileSize];
        long[] counts = new long[n];
        int mask = TEXTURE_SIZE - 1;
        for (int y = 0; y < tileSize; y++) {
            int gj = y / GRID_STEP;
            float fy = (y % GRID_STEP) / (float) GRID_STEP;
            for (int x = 0; x < tileSize; x++) {
                int gi = x / GRID_STEP;
                float fx = (x % GRID_STEP) / (float) GRID_STEP;
                int i00 = gj * g + gi, i10 = i00 + 1, i01 = i00 + g, i11 = i01 + 1;
                float w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
                int best = 0;
                float bestScore = -1e9f;
                for (int c = 0; c < n; c++) {
                    float[] s = score[c];
                    float v = s[i00] * w00 + s[i10] * w10 + s[i01] * w01 + s[i11] * w11;
                    if (v > bestScore) {
                        bestScore = v;
                        best = c;
                    }
                }
                counts[best]++;
                float l = (float) ((light[i00] * w00 + light[i10] * w10 + light[i01] * w01 + light[i11] * w11) * gain);
                long px = gx0 + x, py = gy0 + y;
                float t = textures[best][(int) ((py & mask) * TEXTURE_SIZE + (px & mask))];
                LandCover cls = LandCover.values()[best];
                long h = Noise.hash(seed ^ 0xA5A5L, px, py);
                int r = channel(cls.dark()[0], cls.light()[0], t, l, (int) (h & 15) - 8);
                int gr = channel(cls.dark()[1], cls.light()[1], t, l, (int) ((h >>> 8) & 15) - 8);
                int b = channel(cls.dark()[2], cls.light()[2], t, l, (int) ((h >>> 16) & 15) - 8);
                rgb[y * tileSize + x] = (r << 16) | (gr << 8) | b;
            }
        }
        float[] cover = new float[n];
        int dom = 0;
        double total = (double) tileSize * tileSize;
        for (int c = 0; c < n; c++) {
            cover[c] = (float) (counts[c] / total);
            if (counts[c] > counts[dom]) dom = c;
        }
        return new Tile(rgb, cover, LandCover.values()[dom]);
    }

    private static int channel(int dark, int light, float t, float illumination, int noise) {
        int v = Math.round((dark + (light - dark) * t) * illumination) + noise;
        return v < 0 ? 0 : Math.min(255, v);
    }

    /** A seamless texture in [0,1] with the character of one class. */
    static float[] texture(LandCover c, long seed) {
        int s = TEXTURE_SIZE;
        float[] t = new float[s * s];
        long ts = seed * 31 + c.ordinal() * 104729L;
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                double v;
                switch (c) {
                    case NATIVE_GRASS -> {
                        // fine, mostly vertical blades with a little clumping
                        double blades = Noise.periodic(ts, x / 2.0, y / 8.0, s / 2, s / 8);
                        double clumps = Noise.periodic(ts + 1, x / 16.0, y / 16.0, s / 16);
                        v = 0.65 * blades + 0.35 * clumps;
                    }
                    case INVASIVE_WEED -> {
                        // rosette clumps with scattered bright flower heads
                        double clumps = Noise.periodic(ts, x / 8.0, y / 8.0, s / 8);
                        clumps = Math.max(0, Math.min(1, (clumps - 0.35) * 2.2));
                        double flowers = Noise.lattice(ts + 2, x / 4, y / 4) > 0.92 ? 1.0 : 0.0;
                        v = Math.max(0.55 * clumps, flowers);
                    }
                    case SHRUB -> {
                        // round canopies with dark shadowed gaps
                        double canopy = Noise.periodic(ts, x / 32.0, y / 32.0, s / 32);
                        double leaves = Noise.periodic(ts + 3, x / 4.0, y / 4.0, s / 4);
                        v = Math.max(0, Math.min(1, (canopy - 0.3) * 2.0)) * (0.7 + 0.3 * leaves);
                    }
                    case BARE_SOIL -> {
                        // grain and pebbles
                        double grain = Noise.lattice(ts, x, y);
                        double patches = Noise.periodic(ts + 4, x / 32.0, y / 32.0, s / 32);
                        v = 0.45 * grain + 0.55 * patches;
                    }
                    default -> {
                        // water: smooth with slow ripples
                        double ripple = 0.5 + 0.5 * Math.sin(2 * Math.PI * (y / 16.0 + 0.6 * Noise.periodic(ts, x / 64.0, y / 64.0, s / 64)));
                        v = 0.35 + 0.3 * ripple;
                    }
                }
                t[y * s + x] = (float) v;
            }
        }
        return t;
    }
}
