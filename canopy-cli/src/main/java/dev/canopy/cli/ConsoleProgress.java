package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A {@link ProgressListener} on stderr. On a terminal it is a progress bar (rate and ETA) redrawn in
 * place; when output goes to a file or a CI log it prints one plain line every
 * {@link #LINE_INTERVAL} (done, total, rate, ETA, message) and a last one at the end, never
 * carriage-return frames.
 */
final class ConsoleProgress implements ProgressListener {
    static final Duration LINE_INTERVAL = Duration.ofSeconds(5);

    private final boolean enabled;
    private final boolean interactive;
    private final PrintStream err;
    private final Clock clock;
    private ProgressBar bar;
    // line mode
    private String task;
    private long total;
    private long done;
    private String extra = "";
    private long startMillis;
    private long lastLineMillis;

    ConsoleProgress(boolean enabled) {
        this(enabled, System.console() != null, System.err, Clock.systemUTC());
    }

    ConsoleProgress(boolean enabled, boolean interactive, PrintStream err, Clock clock) {
        this.enabled = enabled;
        this.interactive = interactive;
        this.err = err;
        this.clock = clock;
    }

    @Override
    public synchronized void start(String task, long total) {
        finish();
        if (!enabled) return;
        if (interactive) {
            bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250).showSpeed().setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(err))
                    .build();
        } else {
            this.task = task;
            this.total = total;
            this.done = 0;
            this.extra = "";
            this.startMillis = clock.millis();
            this.lastLineMillis = startMillis;
        }
    }

    @Override
    public synchronized void advance(long n) {
        if (bar != null) bar.stepBy(n);
        else if (task != null) {
            done += n;
            maybeLine();
        }
    }

    @Override
    public synchronized void message(String extra) {
        if (bar != null) bar.setExtraMessage(extra);
        else if (task != null) {
            this.extra = extra;
            maybeLine();
        }
    }

    /** Jumps to an absolute position (when work is skipped, e.g. trials stopped early). */
    synchronized void setProgress(long position) {
        if (bar != null) bar.stepTo(position);
        else if (task != null) {
            done = position;
            maybeLine();
        }
    }

    /** A line above the bar (or plain, without a bar). */
    synchronized void println(String line) {
        if (bar != null) err.print("\r\033[K");
        err.println(line);
    }

    private void maybeLine() {
        long now = clock.millis();
        if (now - lastLineMillis < LINE_INTERVAL.toMillis()) return;
        lastLineMillis = now;
        err.println(line(now));
    }

    private String line(long now) {
        double seconds = Math.max(0.001, (now - startMillis) / 1000.0);
        double rate = done / seconds;
        String eta = rate > 0 && total > done ? String.format(", ETA %s", duration((long) ((total - done) / rate))) : "";
        String pct = total > 0 ? String.format(" (%.0f%%)", 100.0 * done / total) : "";
        return String.format("%s: %,d/%,d%s, %.1f/s, %s elapsed%s%s", task, done, total, pct, rate, duration((long) seconds), eta,
                extra.isEmpty() ? "" : ", " + extra);
    }

    private static String duration(long s) {
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : String.format("%dm%02ds", s / 60, s % 60);
    }

    @Override
    public synchronized void finish() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        if (task != null) {
            err.println(line(clock.millis()));
            task = null;
        }
    }
}
