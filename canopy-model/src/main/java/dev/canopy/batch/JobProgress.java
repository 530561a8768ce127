package dev.canopy.batch;

import java.time.Instant;

/**
 * The live state of a batch job, rewritten by its driver as {@code progress.json} in the job's
 * folder about once a second; {@code canopy status}, the control plane and the dashboard read it.
 *
 * @param stage         planning, calibrating, running, succeeded, failed or stopped
 * @param tilesPlanned  tiles the plan covers (an upper bound when an area filters rows inside parts)
 * @param tilesDone     tiles with a result row so far (this run plus shards committed before a resume)
 * @param etaSeconds    at the current rate, or null when unknown
 */
public record JobProgress(String stage, long tilesPlanned, long tilesDone, long errors, double tilesPerSecond, Double etaSeconds,
                          int shardsDone, int shards, Instant startedAt, Instant updatedAt, String message) {
    public static final String FILE = "progress.json";
}
