package dev.canopy.batch;

import java.util.List;

/**
 * Runs shards somewhere (Spark, or threads of this JVM).
 *
 * <p>Contract: {@link Listener#onShardDone} is called once per shard index that committed, from any
 * thread; a retried shard is reported once. {@link Listener#onProgress} receives the live totals of
 * rows written and error rows over the whole run (finished and running shards; a failed attempt's
 * rows are withdrawn when Spark retries it) about once a second and after each shard, from any thread.
 * {@link #cancel} may be called from any thread, including from inside a listener; {@link #run} then
 * stops the remaining work and throws {@link Cancelled}. Shards committed before the cancel stay.
 */
public interface ShardRunner {
    /** What the driver hears while shards run. */
    interface Listener {
        void onShardDone(ShardSpec shard);

        default void onProgress(long rows, long errors) { }
    }

    List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Listener listener);

    /** Shards that run at once on one executor JVM (Spark: the default parallelism per executor; local: the threads). */
    int parallelism();

    /** Stops the running job (Spark: cancels its job group). */
    void cancel(String reason);

    /** A short description for logs and the summary (e.g. {@code spark local[*]}). */
    String describe();

    /** Thrown by {@link #run} after {@link #cancel}. */
    final class Cancelled extends RuntimeException {
        public Cancelled(String reason, Throwable cause) {
            super(reason, cause);
        }
    }
}
