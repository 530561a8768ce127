package dev.canopy.control;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.function.DoubleSupplier;

/**
 * When to try a failed webhook delivery again: exponential backoff with jitter. Attempt n (1 = the first
 * retry) waits {@code min(BASE * 2^(n-1), CAP)} scaled by a random factor in [0.5, 1), so that receivers
 * coming back up are not hit by every sender at once. With the defaults the waits are about 5 s, 10 s,
 * 20 s, ... 1 h, then hourly, which keeps a delivery alive past 24 hours in about 33 attempts.
 * A receiver's {@code Retry-After} (seconds or an HTTP date) is honoured when it asks for longer, up to
 * {@link #MAX_RETRY_AFTER}.
 */
final class Backoff {
    static final Duration BASE = Duration.ofSeconds(5);
    static final Duration CAP = Duration.ofHours(1);
    static final Duration MAX_RETRY_AFTER = Duration.ofHours(6);

    private Backoff() { }

    static Duration delay(int attempt, Duration retryAfter, DoubleSupplier random) {
        int n = Math.max(1, attempt);
        long base = n > 20 ? CAP.toMillis() : Math.min(CAP.toMillis(), BASE.toMillis() << (n - 1));
        long jittered = (long) (base * (0.5 + 0.5 * random.getAsDouble()));
        if (retryAfter != null) {
            long asked = Math.min(retryAfter.toMillis(), MAX_RETRY_AFTER.toMillis());
            if (asked > jittered) return Duration.ofMillis(asked);
        }
        return Duration.ofMillis(jittered);
    }

    /** A {@code Retry-After} header: delay-seconds or an HTTP date, relative to {@code now}; null if absent or unreadable. */
    static Duration parseRetryAfter(String header, Instant now) {
        if (header == null || header.isBlank()) return null;
        String h = header.trim();
        if (h.matches("\\d{1,9}")) return Duration.ofSeconds(Long.parseLong(h));
        try {
            Instant at = ZonedDateTime.parse(h, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            return at.isAfter(now) ? Duration.between(now, at) : Duration.ZERO;
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
