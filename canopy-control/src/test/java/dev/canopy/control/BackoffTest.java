package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** When failed webhook deliveries are tried again. */
class BackoffTest {
    @Test
    void waitsDoubleFromFiveSecondsUpToAnHourScaledByJitter() {
        assertThat(Backoff.delay(1, null, () -> 0.0)).isEqualTo(Duration.ofMillis(2500));
        assertThat(Backoff.delay(1, null, () -> 0.999999)).isBetween(Duration.ofMillis(4999), Duration.ofMillis(5000));
        assertThat(Backoff.delay(2, null, () -> 0.0)).isEqualTo(Duration.ofSeconds(5));
        assertThat(Backoff.delay(3, null, () -> 0.0)).isEqualTo(Duration.ofSeconds(10));
        assertThat(Backoff.delay(10, null, () -> 0.0)).isEqualTo(Duration.ofSeconds(1280)); // 5 s * 2^9, halved
        assertThat(Backoff.delay(11, null, () -> 0.0)).isEqualTo(Duration.ofMinutes(30)); // 5 s * 2^10 is past the one-hour cap
        assertThat(Backoff.delay(40, null, () -> 0.5)).isEqualTo(Duration.ofMinutes(45));
        assertThat(Backoff.delay(0, null, () -> 0.0)).isEqualTo(Duration.ofMillis(2500));
    }

    @Test
    void aLongerRetryAfterIsHonouredUpToSixHours() {
        assertThat(Backoff.delay(1, Duration.ofSeconds(120), () -> 0.0)).isEqualTo(Duration.ofSeconds(120));
        assertThat(Backoff.delay(1, Duration.ofSeconds(1), () -> 0.0)).as("a shorter one does not hurry the schedule").isEqualTo(Duration.ofMillis(2500));
        assertThat(Backoff.delay(1, Duration.ofDays(3), () -> 0.0)).isEqualTo(Duration.ofHours(6));
    }

    @Test
    void keepsADeliveryAliveForMoreThanADay() {
        Duration total = Duration.ZERO;
        int attempts = 0;
        while (total.compareTo(Duration.ofHours(24)) < 0) total = total.plus(Backoff.delay(++attempts, null, () -> 0.999));
        assertThat(attempts).isBetween(25, 40);
    }

    @Test
    void readsRetryAfterAsSecondsOrAnHttpDate() {
        Instant now = Instant.parse("2026-11-27T10:00:00Z");
        assertThat(Backoff.parseRetryAfter("120", now)).isEqualTo(Duration.ofSeconds(120));
        assertThat(Backoff.parseRetryAfter(" 7 ", now)).isEqualTo(Duration.ofSeconds(7));
        assertThat(Backoff.parseRetryAfter("Fri, 27 Nov 2026 10:05:00 GMT", now)).isEqualTo(Duration.ofMinutes(5));
        assertThat(Backoff.parseRetryAfter("Fri, 27 Nov 2026 09:05:00 GMT", now)).isEqualTo(Duration.ZERO);
        assertThat(Backoff.parseRetryAfter("soon", now)).isNull();
        assertThat(Backoff.parseRetryAfter("-5", now)).isNull();
        assertThat(Backoff.parseRetryAfter("", now)).isNull();
        assertThat(Backoff.parseRetryAfter(null, now)).isNull();
    }
}
