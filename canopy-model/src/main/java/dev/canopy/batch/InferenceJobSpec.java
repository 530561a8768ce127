package dev.canopy.batch;

import java.io.Serializable;

/**
 * What a batch inference job does, shipped to every task (so: small and serializable).
 *
 * @param surveyRoot      survey store root URI (its manifest is read by tasks, part by part)
 * @param modelRoot       store root URI of the model package
 * @param modelPrefix     key prefix of the package inside that store
 * @param modelRef        NAME:VERSION, recorded in the output
 * @param areaWkt         optional area (WKT, lon/lat) that rows must intersect; null for all rows
 * @param outputRoot      output store root URI
 * @param replicas        model replicas per executor JVM
 * @param maxBatch        largest batch a replica runs
 * @param maxWaitMicros   longest a replica waits to fill a batch
 * @param decodeThreads   decoding threads per executor JVM
 * @param maxInFlight     tiles in flight per task
 * @param maxInFlightBytes fetched bytes in flight per task
 */
public record InferenceJobSpec(String surveyRoot, String modelRoot, String modelPrefix, String modelRef, String areaWkt, String outputRoot,
                               int replicas, int maxBatch, long maxWaitMicros, int decodeThreads, int maxInFlight, long maxInFlightBytes)
        implements Serializable {
    public static final int DEFAULT_ROWS_PER_SHARD = 50_000;
}
