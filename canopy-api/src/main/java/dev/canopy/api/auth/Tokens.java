package dev.canopy.api.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Bearer tokens: 256 random bits, shown once, stored only as their SHA-256 (a token this random needs no
 * salt or slow hash: guessing one is the same work as finding a preimage).
 */
public final class Tokens {
    public static final String PREFIX = "cnp_";
    private static final SecureRandom RANDOM = new SecureRandom();
    /** What {@link #newToken()} makes: the prefix, then 32 bytes in unpadded base64url. */
    private static final java.util.regex.Pattern SHAPE = java.util.regex.Pattern.compile(PREFIX + "[A-Za-z0-9_-]{43}");

    private Tokens() { }

    public static String newToken() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** Whether {@code s} could be a token at all; anything else needs no look-up. */
    public static boolean looksLikeToken(String s) {
        return s != null && SHAPE.matcher(s).matches();
    }

    public static String sha256(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /** A short, non-secret id for logs and audit: the first 12 hex digits of the hash. */
    public static String idOf(String token) {
        return sha256(token).substring(0, 12);
    }
}
