package dev.canopy.control;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** Identifiers the API hands out: a kind prefix and 64 random bits in hex ({@code job_3f9a...}). */
final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern SHAPE = Pattern.compile("[a-z]{2,5}_[0-9a-f]{16}");

    private Ids() { }

    static String next(String prefix) {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return prefix + "_" + HexFormat.of().formatHex(b);
    }

    /** True when {@code s} is shaped like an id of {@code prefix}: anything else cannot exist, so it is a 404 without a query. */
    static boolean looksLike(String prefix, String s) {
        return s != null && s.startsWith(prefix + "_") && SHAPE.matcher(s).matches();
    }
}
