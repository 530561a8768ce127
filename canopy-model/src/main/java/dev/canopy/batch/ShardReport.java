package dev.canopy.batch;

import java.io.Serializable;

/** What a finished shard reports to the driver (and stores as its commit marker). */
public record ShardReport(int index, String shardKey, PipelineStats.Snapshot stats, long shardBytes, double seconds, boolean skipped)
        implements Serializable { }
