package dev.canopy.batch;

import dev.canopy.imagery.Area;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.ModelCard;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A short run of the real pipeline on the first tiles of a plan, in this JVM, without writing
 * anything: how fast tiles go on this machine (after a warm-up batch), and how big they are. Used to
 * size shards by time ({@link #rowsPerShard}) and by {@code canopy infer --dry-run} to estimate a job.
 *
 * @param tiles          tiles measured (after the warm-up)
 * @param seconds        time they took
 * @param tilesPerSecond rate of this JVM with all its cores (a Spark executor of the same size goes as fast)
 * @param meanBytes      mean size of a tile object
 */
public record Calibration(long tiles, double seconds, double tilesPerSecond, double meanBytes) {
    public static final int DEFAULT_TILES = 512;
    public static final Duration DEFAULT_TIME = Duration.ofSeconds(5);
    /** A shard should take about this long: a failure loses at most this much work. */
    public static final Duration SHARD_TARGET = Duration.ofMinutes(1);
    public static final int MIN_ROWS_PER_SHARD = 1_000;
    public static final int MAX_ROWS_PER_SHARD = 500_000;

    /** Runs up to {@code maxTiles} tiles (or {@code maxTime}) of the plan's first shards through the pipeline. */
    public static Calibration measure(InferenceJobSpec job, Manifest manifest, List<ShardSpec> plan, int maxTiles, Duration maxTime) {
        Area area = job.area();
        try (ExecutorResources.Held held = ExecutorResources.pool(job)) {
            ModelCard card = held.pool().card();
            TilePipeline pipeline = new TilePipeline(ExecutorResources.source(), card.decoder(),
                    ExecutorResources.decoders(job.decodeThreads()), held.pool(), job.maxInFlight(), job.maxInFlightBytes(), job.uriPolicy(),
                    TilePipeline.DEFAULT_MAX_OBJECT_BYTES);
            int warmup = Math.min(job.maxBatch(), Math.max(1, maxTiles / 8));
            PipelineStats stats = new PipelineStats();
            long t0 = 0;
            long measured = 0;
            long deadline = System.nanoTime() + maxTime.toNanos();
            outer:
            for (ShardSpec s : plan) {
                try (Stream<ManifestRow> rows = manifest.rows(manifest.part(s.partKey()), s.skip(), s.count())
                        .filter(r -> area == null || area.intersects(r.bbox()))) {
                    Iterator<InferenceResult> it = pipeline.run(rows.iterator(), stats);
                    long seen = 0;
                    while (it.hasNext()) {
                        it.next();
                        seen++;
                        if (seen == warmup && t0 == 0) t0 = System.nanoTime();
                        if (t0 != 0 && seen > warmup) measured++;
                        if (measured >= maxTiles || System.nanoTime() > deadline) break outer;
                    }
                }
            }
            double seconds = t0 == 0 ? 0 : (System.nanoTime() - t0) / 1e9;
            PipelineStats.Snapshot snap = stats.snapshot();
            double meanBytes = snap.rows() == 0 ? 0 : snap.bytesRead() / (double) Math.max(1, snap.ok() + snap.errors());
            return new Calibration(measured, seconds, measured == 0 || seconds == 0 ? 0 : measured / seconds, meanBytes);
        }
    }

    /**
     * Rows per shard so that one shard takes about {@link #SHARD_TARGET} when {@code concurrentTasks}
     * tasks share a JVM as fast as this one, within [{@value #MIN_ROWS_PER_SHARD}, {@value #MAX_ROWS_PER_SHARD}].
     */
    public int rowsPerShard(int concurrentTasks, Duration target) {
        if (tilesPerSecond <= 0) return MIN_ROWS_PER_SHARD;
        double perTask = tilesPerSecond / Math.max(1, concurrentTasks);
        long rows = Math.round(perTask * target.toSeconds());
        return (int) Math.max(MIN_ROWS_PER_SHARD, Math.min(MAX_ROWS_PER_SHARD, rows));
    }
}
