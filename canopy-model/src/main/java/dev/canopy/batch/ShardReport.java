package dev.canopy.batch;

import java.io.Serializable;

/**
 * What a finished shard reports to the driver (and stores as its commit marker). {@code jvm},
 * {@code poolBusyStart}/{@code poolBusyEnd} (cumulative busy nanoseconds of that JVM's predictor
 * pool) let the driver compute how busy the model replicas were over the whole job.
 */
public record ShardReport(int index, String shardKey, PipelineStats.Snapshot stats, long shardBytes, double seconds, boolean skipped,
                          String jvm, long poolBusyStart, long poolBusyEnd, int replicas) implements Serializable {
    public static String currentJvm() {
        return java.lang.management.ManagementFactory.getRuntimeMXBean().getName();
    }
}
