package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/** Segments on threads of this JVM: {@code available / perTrial} slots. */
public final class LocalTrialExecutor implements TrialExecutor {
    private final TrainableFactory factory;
    private final int slots;
    private final ExecutorService pool;
    private final SegmentWorker worker;
    private final Resources available;

    public LocalTrialExecutor(TrainableFactory factory, Resources available, Resources perTrial) {
        int byCpu = perTrial.cpus() == 0 ? Integer.MAX_VALUE : available.cpus() / perTrial.cpus();
        int byGpu = perTrial.gpus() == 0 ? Integer.MAX_VALUE : available.gpus() / perTrial.gpus();
        this.slots = Math.min(byCpu, byGpu);
        if (slots < 1) {
            throw new TuneException("a trial needs " + perTrial + " but only " + available + " are available", "lower the per-trial resources");
        }
        this.factory = factory;
        this.available = available;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(slots, r -> {
            Thread t = new Thread(r, "canopy-trial-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.worker = new SegmentWorker(slots + 2);
    }

    @Override
    public int slots() {
        return slots;
    }

    @Override
    public CompletableFuture<TrialResult> runSegment(Segment segment) {
        return CompletableFuture.supplyAsync(() -> worker.run(segment, factory), pool);
    }

    @Override
    public String describe() {
        return "local, " + slots + " slot(s) of " + available;
    }

    @Override
    public void close() {
        pool.shutdownNow();
        worker.close();
    }
}
