package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A {@link ProgressListener} drawn as a terminal progress bar (rate and ETA) on stderr. */
final class ConsoleProgress implements ProgressListener {
    private final boolean enabled;
    private ProgressBar bar;

    ConsoleProgress(boolean enabled) {
        this.enabled = enabled;
    }

    @Override
    public synchronized void start(String task, long total) {
        finish();
        if (!enabled) return;
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250).showSpeed().setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                .build();
    }

    @Override
    public synchronized void advance(long done) {
        if (bar != null) bar.stepBy(done);
    }

    @Override
    public synchronized void message(String extra) {
        if (bar != null) bar.setExtraMessage(extra);
    }

    /** Jumps to an absolute position (when work is skipped, e.g. trials stopped early). */
    synchronized void setProgress(long done) {
        if (bar != null) bar.stepTo(done);
    }

    /** A line above the bar (or plain, without a bar). */
    synchronized void println(String line) {
        if (bar != null) {
            System.err.print("\r\033[K");
        }
        System.err.println(line);
    }

    @Override
    public synchronized void finish() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
