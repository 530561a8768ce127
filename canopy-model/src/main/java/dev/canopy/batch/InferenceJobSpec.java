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
 * @param maxInFlightBytes bytes in flight per task, from fetch to answer
 * @param allowedUriPrefixes URI prefixes tiles may be read from ({@link dev.canopy.storage.UriPolicy});
 *                        null when the job's owner runs it on their own data (the CLI)
 * @param engine          the engine that runs the model ({@code pytorch} or {@code onnx}, resolved by the driver so
 *                        every executor runs the same one); null for the package's default
 */
public record InferenceJobSpec(String surveyRoot, String modelRoot, String modelPrefix, String modelRef, String areaWkt, String outputRoot,
                               int replicas, int maxBatch, long maxWaitMicros, int decodeThreads, int maxInFlight, long maxInFlightBytes,
                               java.util.List<String> allowedUriPrefixes, String engine)
        implements Serializable {
    public static final int DEFAULT_ROWS_PER_SHARD = 50_000;

    /** A job over the caller's own data: every tile URI of the manifest may be read. */
    public InferenceJobSpec(String surveyRoot, String modelRoot, String modelPrefix, String modelRef, String areaWkt, String outputRoot,
                            int replicas, int maxBatch, long maxWaitMicros, int decodeThreads, int maxInFlight, long maxInFlightBytes) {
        this(surveyRoot, modelRoot, modelPrefix, modelRef, areaWkt, outputRoot, replicas, maxBatch, maxWaitMicros, decodeThreads, maxInFlight,
                maxInFlightBytes, null, null);
    }

    /** The same job with URI rules. */
    public InferenceJobSpec withAllowedUriPrefixes(java.util.List<String> prefixes) {
        return new InferenceJobSpec(surveyRoot, modelRoot, modelPrefix, modelRef, areaWkt, outputRoot, replicas, maxBatch, maxWaitMicros, decodeThreads,
                maxInFlight, maxInFlightBytes, prefixes, engine);
    }

    /** The same job on another engine ({@code pytorch}, {@code onnx}; null for the package's default). */
    public InferenceJobSpec withEngine(String engine) {
        return new InferenceJobSpec(surveyRoot, modelRoot, modelPrefix, modelRef, areaWkt, outputRoot, replicas, maxBatch, maxWaitMicros, decodeThreads,
                maxInFlight, maxInFlightBytes, allowedUriPrefixes, engine);
    }

    public InferenceJobSpec {
        if (engine != null) {
            // a clear error now, not in every task; executors run a concrete engine the driver chose
            dev.canopy.model.InferenceEngine e = dev.canopy.model.InferenceEngine.of(engine);
            if (e == dev.canopy.model.InferenceEngine.AUTO) {
                throw new IllegalArgumentException("a job runs a concrete engine (pytorch or onnx), not '" + engine + "': resolve auto with EngineChoice first");
            }
            engine = e.id();
        }
        allowedUriPrefixes = allowedUriPrefixes == null ? null : java.util.List.copyOf(allowedUriPrefixes);
    }

    /** The area rows must intersect, or null for all rows. */
    public dev.canopy.imagery.Area area() {
        if (areaWkt == null) return null;
        try {
            return dev.canopy.imagery.Area.of(new org.locationtech.jts.io.WKTReader().read(areaWkt));
        } catch (org.locationtech.jts.io.ParseException e) {
            throw new IllegalArgumentException("bad area WKT in the job: " + e.getMessage(), e);
        }
    }

    /** Where tiles may be read from. */
    public dev.canopy.storage.UriPolicy uriPolicy() {
        return allowedUriPrefixes == null ? dev.canopy.storage.UriPolicy.trusted()
                : dev.canopy.storage.UriPolicy.of(allowedUriPrefixes, "the job's allowed URI prefixes");
    }
}
