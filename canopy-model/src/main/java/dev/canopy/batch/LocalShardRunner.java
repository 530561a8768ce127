package dev.canopy.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/** Runs shards on threads of this JVM: for engine-neutral tests and for machines without Spark. */
public final class LocalShardRunner implements ShardRunner {
    private final int concurrentShards;

    public LocalShardRunner(int concurrentShards) {
        this.concurrentShards = concurrentShards;
    }

    @Override
    public List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Consumer<ShardSpec> onShardDone) {
        ExecutorService pool = Executors.newFixedThreadPool(concurrentShards);
        try {
            List<CompletableFuture<ShardReport>> fs = new ArrayList<>();
            for (ShardSpec s : shards) {
                fs.add(CompletableFuture.supplyAsync(() -> ShardTask.run(s, job), pool).whenComplete((r, e) -> {
                    if (e == null) onShardDone.accept(s);
                }));
            }
            List<ShardReport> out = new ArrayList<>();
            for (CompletableFuture<ShardReport> f : fs) out.add(f.join());
            return out;
        } finally {
            pool.shutdown();
        }
    }

    @Override
    public String describe() {
        return "local threads x" + concurrentShards;
    }
}
