package dev.canopy.tune;

import java.util.SplittableRandom;

/**
 * Seeds for the random generators of searchers and schedulers, derived from the experiment's seed
 * and the trial (and iteration). The parts are mixed through SplittableRandom's 64-bit mixer: a
 * {@code java.util.Random} built from neighbouring seeds (seed * k + index) gives nearly the same first
 * draws, so trial 3 and trial 4 would get almost the same first parameter.
 */
final class Seeds {
    private Seeds() { }

    static long of(long... parts) {
        long h = 0x9E3779B97F4A7C15L;
        for (long p : parts) h = new SplittableRandom(h ^ p).nextLong();
        return h;
    }
}
