package dev.canopy.batch;

import dev.canopy.imagery.Area;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Json;
import dev.canopy.model.ModelCard;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.stream.Stream;
import org.locationtech.jts.io.ParseException;
import org.locationtech.jts.io.WKTReader;

/**
 * Runs one shard: streams its manifest slice through the {@link TilePipeline}, writes a GeoParquet
 * file locally, then commits it.
 *
 * <p>Commit rule (the contract that makes retries and speculation safe): the shard's object name is
 * a function of its index only; the file is uploaded with one atomic PUT (S3) or rename (file), and
 * only then is the marker {@code _committed/part-N.json} written. A retried or speculative attempt
 * rewrites the same name with a complete file, so readers never see a partial file or a duplicate
 * row, and a resumed job skips every shard whose marker exists. Runs on a task thread; may be
 * retried any number of times.
 */
public final class ShardTask {
    private ShardTask() { }

    public static ShardReport run(ShardSpec spec, InferenceJobSpec job) {
        long t0 = System.nanoTime();
        S3Settings s3 = S3Settings.fromEnvironment();
        try (ObjectStore out = ObjectStores.open(URI.create(job.outputRoot()), s3);
             ObjectStore survey = ObjectStores.open(URI.create(job.surveyRoot()), s3)) {
            PredictorPool pool = ExecutorResources.pool(job);
            long busyStart = pool.busyNanos();
            ModelCard card = pool.card();
            ImageDecoder decoder = new ImageDecoder(card.inputSize(), card.mean(), card.std());
            TilePipeline pipeline = new TilePipeline(ExecutorResources.source(), decoder, ExecutorResources.decoders(job.decodeThreads()), pool,
                    job.maxInFlight(), job.maxInFlightBytes());
            Area area = job.areaWkt() == null ? null : Area.of(parseWkt(job.areaWkt()));
            Manifest manifest = Manifest.open(survey);
            ManifestIndex.Part part = manifest.part(spec.partKey());
            PipelineStats stats = new PipelineStats();
            Path local = Files.createTempFile("canopy-shard-" + spec.index() + "-", ".parquet");
            try {
                Map<String, String> meta = Map.of("canopy.model", job.modelRef(), "canopy.survey", job.surveyRoot(),
                        "canopy.shard", Integer.toString(spec.index()));
                try (Stream<ManifestRow> rows = manifest.rows(part).skip(spec.skip()).limit(spec.count())
                        .filter(r -> area == null || area.intersects(r.bbox()));
                     PredictionShardWriter writer = new PredictionShardWriter(local, card.classes(), meta)) {
                    Iterator<InferenceResult> results = pipeline.run(rows.iterator(), stats);
                    while (results.hasNext()) writer.write(results.next());
                }
                long bytes = Files.size(local);
                out.put(spec.shardKey(), local);
                ShardReport report = new ShardReport(spec.index(), spec.shardKey(), stats.snapshot(), bytes, (System.nanoTime() - t0) / 1e9, false,
                        ShardReport.currentJvm(), busyStart, pool.busyNanos(), job.replicas());
                out.put(spec.markerKey(), Json.write(report));
                return report;
            } finally {
                Files.deleteIfExists(local);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("shard " + spec.index() + " failed", e);
        }
    }

    private static org.locationtech.jts.geom.Geometry parseWkt(String wkt) {
        try {
            return new WKTReader().read(wkt);
        } catch (ParseException e) {
            throw new IllegalArgumentException("bad area WKT", e);
        }
    }
}
