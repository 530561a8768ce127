package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.api.auth.Tokens;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** One lookup per token per TTL; a revocation is seen after the TTL; an expiry at once. */
class CachedVerifierTest {
    @Test
    void verdictsAreRememberedForTheTtlOnly() {
        ManualClock clock = new ManualClock();
        AtomicInteger lookups = new AtomicInteger();
        boolean[] revoked = {false};
        String token = Tokens.newToken();
        TokenVerifier db = t -> {
            lookups.incrementAndGet();
            return revoked[0] || !t.equals(token) ? Optional.empty()
                    : Optional.of(new TokenVerifier.Principal("id", "team", EnumSet.of(Scope.READ), clock.instant().plus(Duration.ofMinutes(1))));
        };
        CachedVerifier v = new CachedVerifier(db, clock, Duration.ofSeconds(2), () -> clock.instant().toEpochMilli() * 1_000_000L);
        for (int i = 0; i < 100; i++) assertThat(v.verify(token)).isPresent();
        assertThat(lookups.get()).isEqualTo(1);
        revoked[0] = true;
        clock.advance(Duration.ofMillis(1999));
        assertThat(v.verify(token)).as("within the TTL").isPresent();
        clock.advance(Duration.ofMillis(1));
        assertThat(v.verify(token)).as("after the TTL the revocation is seen").isEmpty();
        assertThat(lookups.get()).isEqualTo(2);
        // unknown tokens are remembered too; malformed ones never reach the database
        String other = Tokens.newToken();
        v.verify(other);
        v.verify(other);
        v.verify("not a token");
        assertThat(lookups.get()).isEqualTo(3);
    }

    @Test
    void anExpiryInsideTheTtlTakesEffectAtOnce() {
        ManualClock clock = new ManualClock();
        String token = Tokens.newToken();
        Instant expires = clock.instant().plus(Duration.ofMillis(500));
        CachedVerifier v = new CachedVerifier(t -> Optional.of(new TokenVerifier.Principal("id", "t", EnumSet.of(Scope.READ), expires)), clock,
                Duration.ofSeconds(2), () -> clock.instant().toEpochMilli() * 1_000_000L);
        assertThat(v.verify(token)).isPresent();
        clock.advance(Duration.ofMillis(500));
        assertThat(v.verify(token)).isEmpty();
    }
}
