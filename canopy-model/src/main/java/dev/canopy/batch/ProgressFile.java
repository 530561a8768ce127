package dev.canopy.batch;

import dev.canopy.api.Json;
import dev.canopy.storage.ObjectStore;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps {@link JobProgress#FILE} in a job folder current: callers {@link #update} from any thread as
 * often as they like; a daemon thread writes the latest state at most once per period, and
 * {@link #close} writes the last one. A failed write is logged and retried with the next state; it
 * never fails the job.
 */
final class ProgressFile implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressFile.class);
    private final ObjectStore store;
    private final AtomicReference<JobProgress> latest = new AtomicReference<>();
    private final AtomicReference<JobProgress> written = new AtomicReference<>();
    private final ScheduledExecutorService writer;

    ProgressFile(ObjectStore store, long periodMillis) {
        this.store = store;
        this.writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "canopy-progress-file");
            t.setDaemon(true);
            return t;
        });
        writer.scheduleWithFixedDelay(this::flush, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    void update(JobProgress p) {
        latest.set(p);
    }

    JobProgress latest() {
        return latest.get();
    }

    private synchronized void flush() {
        JobProgress p = latest.get();
        if (p == null) return;
        boolean live = p.stage().equals("running") || p.stage().equals("calibrating") || p.stage().equals("planning");
        if (p == written.get() && !live) return;
        // a live driver refreshes the time even when no task reported, or status would call the job interrupted
        JobProgress out = live ? new JobProgress(p.stage(), p.tilesPlanned(), p.tilesDone(), p.errors(), p.tilesPerSecond(), p.etaSeconds(),
                p.shardsDone(), p.shards(), p.startedAt(), java.time.Instant.now(), p.message()) : p;
        try {
            store.put(JobProgress.FILE, Json.write(out));
            written.set(p);
        } catch (RuntimeException e) {
            LOG.warn("cannot write {}: {}", store.uri(JobProgress.FILE), e.toString());
        }
    }

    @Override
    public void close() {
        writer.shutdownNow();
        flush();
    }
}
