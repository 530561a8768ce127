package dev.canopy.batch;

import java.util.List;
import java.util.function.Consumer;

/**
 * Runs shards somewhere (Spark, or threads of this JVM). {@code onShardDone} is called once per
 * shard index that finished, possibly from another thread; a retried shard is reported once.
 */
public interface ShardRunner {
    List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Consumer<ShardSpec> onShardDone);

    /** A short description for logs and the summary (e.g. {@code spark local[*]}). */
    String describe();
}
