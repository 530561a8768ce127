package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Requests per second per token: bursts of twice the rate, then the wait until the next one. */
class RateLimiterTest {
    @Test
    void aBurstOfTwiceTheRatePassesThenTheNextWaits() {
        ManualClock clock = new ManualClock();
        RateLimiter l = new RateLimiter(5, clock);
        for (int i = 0; i < 10; i++) assertThat(l.acquire("a")).as("request " + i).isZero();
        long wait = l.acquire("a");
        assertThat(wait).isEqualTo(200L);
        assertThat(l.acquire("b")).as("another token has its own bucket").isZero();
        clock.advance(Duration.ofMillis(200)); // one request's worth
        assertThat(l.acquire("a")).isZero();
        assertThat(l.acquire("a")).isPositive();
        clock.advance(Duration.ofSeconds(60));
        for (int i = 0; i < 10; i++) assertThat(l.acquire("a")).isZero();
    }

    @Test
    void zeroMeansNoLimit() {
        RateLimiter l = new RateLimiter(0, new ManualClock());
        for (int i = 0; i < 1000; i++) assertThat(l.acquire("a")).isZero();
    }
}
