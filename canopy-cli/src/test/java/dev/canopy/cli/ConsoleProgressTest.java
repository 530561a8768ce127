package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class ConsoleProgressTest {
    static final class ManualClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        @Override public java.time.ZoneId getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
    }

    @Test
    void withoutATerminalItPrintsPlainLinesEveryFewSeconds() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ManualClock clock = new ManualClock();
        ConsoleProgress p = new ConsoleProgress(true, false, new PrintStream(buf, true), clock);
        p.start("infer", 1000);
        for (int i = 0; i < 100; i++) {
            clock.now = clock.now.plus(Duration.ofMillis(200)); // 20 s in all
            p.advance(10);
        }
        p.message("3 errors");
        p.finish();
        String out = buf.toString();
        assertThat(out).doesNotContain("\r").doesNotContain("\033");
        // one line per 5 s over 20 s, and the last one at the end
        assertThat(out.lines()).hasSize(5);
        assertThat(out.lines().findFirst().orElseThrow()).startsWith("infer: 250/1,000 (25%), 50.0/s, 0m05s elapsed, ETA 0m15s");
        assertThat(out.lines().reduce((a, b) -> b).orElseThrow()).startsWith("infer: 1,000/1,000 (100%)").endsWith("3 errors");
    }

    @Test
    void disabledPrintsNothing() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ConsoleProgress p = new ConsoleProgress(false, false, new PrintStream(buf, true), new ManualClock());
        p.start("x", 10);
        p.advance(10);
        p.finish();
        assertThat(buf.toString()).isEmpty();
    }
}
