package dev.canopy.control;

import java.time.Duration;

/** Time that moves only when the test says. */
final class ManualClock extends java.time.Clock {
    private java.time.Instant now = java.time.Instant.parse("2026-11-27T00:00:00Z");

    void advance(Duration d) {
        now = now.plus(d);
    }

    @Override
    public java.time.ZoneId getZone() {
        return java.time.ZoneOffset.UTC;
    }

    @Override
    public java.time.Clock withZone(java.time.ZoneId zone) {
        return this;
    }

    @Override
    public java.time.Instant instant() {
        return now;
    }
}
