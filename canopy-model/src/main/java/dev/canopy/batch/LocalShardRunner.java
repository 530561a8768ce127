package dev.canopy.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs shards on threads of this JVM: for engine-neutral tests and for machines without Spark.
 * Live totals are reported every {@value #REPORT_EVERY} rows from the task threads.
 */
public final class LocalShardRunner implements ShardRunner {
    static final int REPORT_EVERY = 100;
    private final int concurrentShards;
    private final AtomicReference<String> cancelled = new AtomicReference<>();

    public LocalShardRunner(int concurrentShards) {
        this.concurrentShards = concurrentShards;
    }

    @Override
    public List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Listener listener) {
        ExecutorService pool = Executors.newFixedThreadPool(concurrentShards);
        AtomicLong rows = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        RowCounter counter = ok -> {
            if (cancelled.get() != null) throw new CancellationException(cancelled.get());
            if (!ok) errors.incrementAndGet();
            if (rows.incrementAndGet() % REPORT_EVERY == 0) listener.onProgress(rows.get(), errors.get());
        };
        try {
            List<CompletableFuture<ShardReport>> fs = new ArrayList<>();
            for (ShardSpec s : shards) {
                fs.add(CompletableFuture.supplyAsync(() -> {
                    if (cancelled.get() != null) throw new CancellationException(cancelled.get());
                    return ShardTask.run(s, job, counter);
                }, pool).whenComplete((r, e) -> {
                    if (e == null) {
                        listener.onShardDone(s);
                        listener.onProgress(rows.get(), errors.get());
                    }
                }));
            }
            List<ShardReport> out = new ArrayList<>();
            for (CompletableFuture<ShardReport> f : fs) {
                try {
                    out.add(f.join());
                } catch (CompletionException | CancellationException e) {
                    if (cancelled.get() != null) throw new Cancelled(cancelled.get(), e);
                    throw e;
                }
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Override
    public int parallelism() {
        return concurrentShards;
    }

    @Override
    public void cancel(String reason) {
        cancelled.compareAndSet(null, reason);
    }

    @Override
    public String describe() {
        return "local threads x" + concurrentShards;
    }
}
