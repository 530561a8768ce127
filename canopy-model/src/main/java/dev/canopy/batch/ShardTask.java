package dev.canopy.batch;

import dev.canopy.imagery.Area;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Classification;
import dev.canopy.model.ModelCard;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.net.URI;
import java.util.Iterator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Runs one shard: streams its manifest slice through the {@link TilePipeline} into a
 * {@link ShardWriter}, then commits it (see {@link ShardWriter} for the protocol that makes retries and
 * speculation safe). Runs on a task thread; may be retried any number of times. Each written row is
 * reported to the {@link RowCounter} as it is written, for live progress and the job's error limit.
 */
public final class ShardTask {
    private ShardTask() { }

    public static ShardReport run(ShardSpec spec, InferenceJobSpec job, RowCounter counter) {
        long t0 = System.nanoTime();
        S3Settings s3 = S3Settings.fromEnvironment();
        try (ObjectStore out = ObjectStores.open(URI.create(job.outputRoot()), s3);
             ObjectStore survey = ObjectStores.open(URI.create(job.surveyRoot()), s3);
             ExecutorResources.Held held = ExecutorResources.pool(job)) {
            PredictorPool<float[], Classification> pool = held.pool();
            long busyStart = pool.busyNanos();
            ModelCard card = pool.card();
            ImageDecoder decoder = card.decoder();
            TilePipeline pipeline = new TilePipeline(ExecutorResources.source(s3), decoder, ExecutorResources.decoders(job.decodeThreads()), pool,
                    job.maxInFlight(), job.maxInFlightBytes(), job.uriPolicy(), TilePipeline.DEFAULT_MAX_OBJECT_BYTES);
            Area area = job.area();
            Manifest manifest = Manifest.open(survey);
            ManifestIndex.Part part = manifest.part(spec.partKey());
            PipelineStats stats = new PipelineStats();
            Map<String, String> meta = Map.of("canopy.model", job.modelRef(), "canopy.survey", job.surveyRoot(),
                    "canopy.shard", Integer.toString(spec.index()), "canopy.engine", job.engine() == null ? "default" : job.engine());
            try (Stream<ManifestRow> rows = manifest.rows(part, spec.skip(), spec.count())
                    .filter(r -> area == null || area.intersects(r.bbox()));
                 ShardWriter writer = new ShardWriter(spec, out, card.classes(), meta)) {
                Iterator<InferenceResult> results = pipeline.run(rows.iterator(), stats);
                while (results.hasNext()) {
                    InferenceResult r = results.next();
                    writer.write(r);
                    counter.row(r.isOk());
                }
                return writer.commit(bytes -> new ShardReport(spec.index(), spec.shardKey(), stats.snapshot(), bytes,
                        (System.nanoTime() - t0) / 1e9, false, ShardReport.currentJvm(), busyStart, pool.busyNanos(), job.replicas()));
            }
        }
    }
}
