package dev.canopy.control;

import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.api.auth.Tokens;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Remembers a token's verdict for a short while, so that a busy client costs one database lookup per
 * {@code ttl} instead of one per request. The price: a revoked token keeps working for at most {@code ttl}
 * on each server (2 s by default), and an expired one stops at its expiry exactly (checked on every call).
 * Unknown tokens are remembered too (a flood of made-up tokens must not reach the database each time).
 * Threads: any.
 */
final class CachedVerifier implements TokenVerifier {
    static final Duration DEFAULT_TTL = Duration.ofSeconds(2);
    static final int MAX_ENTRIES = 10_000;

    private record Entry(Optional<Principal> verdict, long untilNanos) { }

    private final TokenVerifier inner;
    private final Clock clock;
    private final Duration ttl;
    private final java.util.function.LongSupplier nanos;
    private final ConcurrentHashMap<String, Entry> cache = new ConcurrentHashMap<>();

    CachedVerifier(TokenVerifier inner, Clock clock, Duration ttl) {
        this(inner, clock, ttl, System::nanoTime);
    }

    /** {@code nanos}: a monotonic time source for the TTL (a wall clock stepped back must not stretch it); {@code clock} judges expiry. */
    CachedVerifier(TokenVerifier inner, Clock clock, Duration ttl, java.util.function.LongSupplier nanos) {
        this.nanos = nanos;
        this.inner = inner;
        this.clock = clock;
        this.ttl = ttl;
    }

    @Override
    public Optional<Principal> verify(String token) {
        if (token == null || !Tokens.looksLikeToken(token.trim())) return Optional.empty();
        String key = Tokens.sha256(token.trim()); // the raw token is not kept
        Instant now = clock.instant();
        long t = nanos.getAsLong();
        Entry e = cache.get(key);
        if (e == null || t - e.untilNanos() >= 0) {
            e = new Entry(inner.verify(token), t + ttl.toNanos());
            if (cache.size() >= MAX_ENTRIES) cache.clear(); // bounded: forgetting only costs lookups
            cache.put(key, e);
        }
        Optional<Principal> p = e.verdict();
        if (p.isPresent() && p.get().expiresAt() != null && !now.isBefore(p.get().expiresAt())) return Optional.empty();
        return p;
    }
}
