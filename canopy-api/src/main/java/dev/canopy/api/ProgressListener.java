package dev.canopy.api;

/**
 * Receives progress of long work. Called from the worker's own thread(s); implementations must be
 * thread-safe and cheap (a progress bar, a counter), never block.
 */
public interface ProgressListener {
    ProgressListener NONE = new ProgressListener() {
        @Override public void start(String task, long total) { }
        @Override public void advance(long done) { }
        @Override public void message(String extra) { }
        @Override public void finish() { }
    };

    /** Work named {@code task} begins; {@code total} units, or -1 when unknown. */
    void start(String task, long total);

    /** {@code done} more units finished. */
    void advance(long done);

    /** A short status shown next to the bar (e.g. "loss 0.31, 840 img/s"). */
    void message(String extra);

    void finish();
}
