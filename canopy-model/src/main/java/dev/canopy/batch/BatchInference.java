package dev.canopy.batch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.BoundingBox;
import dev.canopy.api.CanopyException;
import dev.canopy.api.CodeVersion;
import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.Manifest;
import dev.canopy.api.Json;
import dev.canopy.model.ModelCard;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.StorageException;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * The driver side of batch inference: refuses to clobber a finished job, plans shards, skips the
 * ones already committed when resuming, runs the rest on a {@link ShardRunner}, and writes
 * {@code summary.json} and {@code _SUCCESS}. The output folder:
 * <pre>
 *   _job.json                    the job and its plan digest (written before any shard)
 *   shards/part-00000.parquet    GeoParquet 1.1 shards
 *   _committed/part-00000.json   one marker per committed shard
 *   summary.json, _SUCCESS       written when every shard is committed
 * </pre>
 */
public final class BatchInference {
    public static final String JOB = "_job.json";
    public static final String SUMMARY = "summary.json";
    public static final String SUCCESS = "_SUCCESS";
    public static final double DEFAULT_MAX_ERROR_FRACTION = 0.05;

    private BatchInference() { }

    /** Options with named defaults. */
    /**
     * Options with named defaults. The error limit is checked live across the whole job: once
     * {@code errorCheckRows} rows are written, a job whose error fraction exceeds
     * {@code maxErrorFraction} is cancelled at once (committed shards stay valid).
     */
    public record Options(boolean overwrite, boolean resume, int rowsPerShard, double maxErrorFraction, long errorCheckRows) {
        public static final long DEFAULT_ERROR_CHECK_ROWS = 1_000;

        /** Rows per shard 0: sized by time from a calibration run. */
        public static Options defaults() {
            return new Options(false, false, 0, DEFAULT_MAX_ERROR_FRACTION, DEFAULT_ERROR_CHECK_ROWS);
        }

        public Options withOverwrite(boolean o) { return new Options(o, resume, rowsPerShard, maxErrorFraction, errorCheckRows); }
        public Options withResume(boolean r) { return new Options(overwrite, r, rowsPerShard, maxErrorFraction, errorCheckRows); }
        public Options withRowsPerShard(int n) { return new Options(overwrite, resume, n, maxErrorFraction, errorCheckRows); }
        public Options withMaxErrorFraction(double f) { return new Options(overwrite, resume, rowsPerShard, f, errorCheckRows); }
        public Options withErrorCheckRows(long n) { return new Options(overwrite, resume, rowsPerShard, maxErrorFraction, n); }
    }

    /** The outcome, also stored as {@code summary.json}. */
    public record Summary(String status, String output, long rows, long ok, long errors, double seconds, double imagesPerSecond,
                          long bytesRead, Map<String, Double> stageSeconds, Map<String, Double> estimatedCover,
                          Map<String, Long> tilesByTopClass, double modelBusyFraction, int shards, int shardsSkipped, String model,
                          Map<String, Object> modelProvenance, String runner, String codeVersion, Instant finishedAt) { }

    public static Summary run(InferenceJobSpec job, ModelCard card, BoundingBox areaBox, Options options, ShardRunner runner,
                              ProgressListener progress) {
        return run(job, card, areaBox, options, runner, progress, java.time.Clock.systemUTC());
    }

    /**
     * Runs (or resumes) a job. Rows per shard: as given, or ({@code rowsPerShard == 0}) sized by time
     * from a short {@link Calibration} so that a shard takes about a minute; a resumed job keeps the
     * plan recorded in {@code _job.json} before its first shard ran. {@code progress.json} is kept
     * current about once a second throughout.
     */
    public static Summary run(InferenceJobSpec job, ModelCard card, BoundingBox areaBox, Options options, ShardRunner runner,
                              ProgressListener progress, java.time.Clock clock) {
        S3Settings s3 = S3Settings.fromEnvironment();
        long t0 = System.nanoTime();
        Instant startedAt = clock.instant();
        try (ObjectStore out = ObjectStores.open(URI.create(job.outputRoot()), s3);
             ObjectStore survey = ObjectStores.open(URI.create(job.surveyRoot()), s3);
             ProgressFile progressFile = new ProgressFile(out, 1_000)) {
            Manifest manifest = Manifest.open(survey);
            refuseForeignOutput(out, options); // before calibrating: a refused run must not touch progress.json
            Integer recorded = options.resume() ? recordedRowsPerShard(out) : null;
            Calibration calibration = null;
            int rowsPerShard;
            if (options.rowsPerShard() > 0) {
                rowsPerShard = options.rowsPerShard(); // a resume with another value is refused below: the plan differs
            } else if (recorded != null) {
                rowsPerShard = recorded;
            } else {
                progressFile.update(new JobProgress("calibrating", 0, 0, 0, 0, null, 0, 0, startedAt, clock.instant(), "measuring this machine's rate"));
                progress.message("calibrating");
                try {
                    calibration = Calibration.measure(job, manifest, InferencePlanner.plan(manifest, areaBox, Integer.MAX_VALUE), Calibration.DEFAULT_TILES,
                            Calibration.DEFAULT_TIME);
                } catch (RuntimeException e) {
                    progressFile.update(new JobProgress("failed", 0, 0, 0, 0, null, 0, 0, startedAt, clock.instant(), "calibration failed: " + e));
                    throw e;
                }
                rowsPerShard = calibration.rowsPerShard(runner.parallelism(), Calibration.SHARD_TARGET);
            }
            List<ShardSpec> plan = InferencePlanner.plan(manifest, areaBox, rowsPerShard);
            String digest = InferencePlanner.digest(plan);
            prepareOutput(out, job, options, digest, plan.size(), rowsPerShard, calibration);

            Set<Integer> committed = new HashSet<>();
            if (options.resume()) {
                try (var s = out.listAll("_committed/")) {
                    s.map(ObjectInfo::key).forEach(k -> committed.add(Integer.parseInt(k.replaceAll("\\D", ""))));
                }
            }
            List<ShardSpec> pending = plan.stream().filter(p -> !committed.contains(p.index())).collect(Collectors.toList());
            long plannedRows = plan.stream().mapToLong(ShardSpec::count).sum();
            long doneRows = plannedRows - pending.stream().mapToLong(ShardSpec::count).sum();
            progress.start("infer", plannedRows);
            progress.advance(doneRows);
            AtomicLong shardsDone = new AtomicLong(committed.size());
            AtomicLong shown = new AtomicLong(); // rows of this run already shown on the progress bar
            long runStart = System.nanoTime();
            java.util.concurrent.atomic.AtomicReference<String> stopped = new java.util.concurrent.atomic.AtomicReference<>();
            progressFile.update(new JobProgress("running", plannedRows, doneRows, 0, 0, null, committed.size(), plan.size(), startedAt, clock.instant(), null));
            ShardRunner.Listener listener = new ShardRunner.Listener() {
                private long rows;
                private long errors;

                @Override
                public synchronized void onShardDone(ShardSpec spec) {
                    progress.message(shardsDone.incrementAndGet() + "/" + plan.size() + " shards");
                    publish();
                }

                @Override
                public synchronized void onProgress(long rows, long errors) {
                    this.rows = rows;
                    this.errors = errors;
                    long delta = rows - shown.get(); // rows of an area-filtered shard may be fewer than planned: never go back
                    if (delta > 0) {
                        progress.advance(delta);
                        shown.addAndGet(delta);
                    }
                    if (errors > 0) progress.message(shardsDone.get() + "/" + plan.size() + " shards, " + errors + " errors");
                    publish();
                    if (rows >= options.errorCheckRows() && errors > options.maxErrorFraction() * rows && stopped.get() == null) {
                        stopped.set(String.format("%.1f%% of the first %d tiles failed (%d), above the limit of %.1f%%",
                                100.0 * errors / rows, rows, errors, 100 * options.maxErrorFraction()));
                        runner.cancel(stopped.get());
                    }
                }

                private void publish() {
                    double secs = (System.nanoTime() - runStart) / 1e9;
                    double rate = secs > 0 ? rows / secs : 0;
                    long done = doneRows + rows;
                    Double eta = rate > 0 ? Math.max(0, plannedRows - done) / rate : null;
                    progressFile.update(new JobProgress("running", plannedRows, done, errors, rate, eta, (int) shardsDone.get(), plan.size(),
                            startedAt, clock.instant(), null));
                }
            };
            List<ShardReport> ran;
            try {
                ran = pending.isEmpty() ? List.of() : runner.run(pending, job, listener);
            } catch (ShardRunner.Cancelled c) {
                progress.finish();
                JobProgress last = progressFile.latest();
                progressFile.update(new JobProgress("stopped", plannedRows, last == null ? 0 : last.tilesDone(), last == null ? 0 : last.errors(), 0, null,
                        (int) shardsDone.get(), plan.size(), startedAt, clock.instant(), stopped.get() == null ? c.getMessage() : stopped.get()));
                if (stopped.get() == null) throw c;
                throw new CanopyException("infer.too_many_errors", "stopped early: " + stopped.get(),
                        "fix the cause (credentials, URIs, image format) and run again with --resume: the " + shardsDone.get()
                                + " shards already committed in " + job.outputRoot() + " stay valid", c);
            } catch (RuntimeException e) {
                JobProgress last = progressFile.latest();
                progressFile.update(new JobProgress("failed", plannedRows, last == null ? 0 : last.tilesDone(), last == null ? 0 : last.errors(), 0, null,
                        (int) shardsDone.get(), plan.size(), startedAt, clock.instant(), e.toString()));
                throw e;
            }
            progress.finish();

            List<ShardReport> all = new ArrayList<>(ran);
            for (int idx : committed) {
                all.add(Json.read(out.get(String.format("_committed/part-%05d.json", idx)), ShardReport.class, "shard marker " + idx));
            }
            PipelineStats.Snapshot total = all.stream().map(ShardReport::stats).reduce(PipelineStats.Snapshot.zero(), PipelineStats.Snapshot::plus);
            double seconds = (System.nanoTime() - t0) / 1e9;
            double errorFraction = total.rows() == 0 ? 0 : total.errors() / (double) total.rows();
            String status = errorFraction > options.maxErrorFraction() ? "failed_error_limit" : "succeeded";
            progressFile.update(new JobProgress(status.equals("succeeded") ? "succeeded" : "failed", plannedRows, total.rows(), total.errors(),
                    total.rows() / Math.max(1e-9, seconds), 0.0, plan.size(), plan.size(), startedAt, clock.instant(), null));
            Map<String, Double> stages = stages(total, seconds, job, ran);
            Map<String, Double> cover = new LinkedHashMap<>();
            Map<String, Long> byTop = new LinkedHashMap<>();
            for (int i = 0; i < card.classes().size(); i++) {
                double sum = i < total.probabilitySums().length ? total.probabilitySums()[i] : 0;
                cover.put(card.classes().get(i), total.ok() == 0 ? 0 : sum / total.ok());
                byTop.put(card.classes().get(i), i < total.topClassCounts().length ? total.topClassCounts()[i] : 0L);
            }
            Map<String, Object> provenance = new LinkedHashMap<>();
            if (card.provenance() != null) {
                provenance.put("seed", card.provenance().seed());
                provenance.put("dataset", card.provenance().dataset());
                provenance.put("datasetDigest", card.provenance().datasetDigest());
                provenance.put("codeVersion", card.provenance().codeVersion());
                provenance.put("source", card.provenance().source());
            }
            provenance.put("metrics", card.metrics());
            Summary summary = new Summary(status, job.outputRoot(), total.rows(), total.ok(), total.errors(), seconds,
                    total.rows() / Math.max(1e-9, seconds), total.bytesRead(), stages, cover, byTop, busyFraction(ran, seconds), plan.size(), committed.size(), job.modelRef(),
                    provenance, runner.describe(), CodeVersion.get(), Instant.now());
            out.put(SUMMARY, Json.write(summary));
            if (!status.equals("succeeded")) {
                throw new CanopyException("infer.too_many_errors", String.format("%.1f%% of tiles failed (%d of %d), above the limit of %.1f%%",
                        100 * errorFraction, total.errors(), total.rows(), 100 * options.maxErrorFraction()),
                        "the shards are written; inspect rows with status 'error' in " + job.outputRoot() + ", or raise --max-error-fraction");
            }
            out.put(SUCCESS, new byte[0]);
            return summary;
        }
    }

    /**
     * What each stage cost, per tile and as a share of the job: mean milliseconds a tile spent in
     * each stage (fetch: request to bytes; decode queue: waiting for a decode thread; decode: CPU;
     * model: submit to answer, batching queue included), the decode threads' busy fraction, and the
     * mean number of fetches in flight.
     */
    static Map<String, Double> stages(PipelineStats.Snapshot total, double seconds, InferenceJobSpec job, List<ShardReport> ran) {
        Map<String, Double> stages = new LinkedHashMap<>();
        double n = Math.max(1, total.rows());
        stages.put("fetch_ms_mean", total.fetchNanos() / 1e6 / n);
        stages.put("decode_queue_ms_mean", total.decodeWaitNanos() / 1e6 / n);
        stages.put("decode_ms_mean", total.decodeNanos() / 1e6 / n);
        stages.put("model_ms_mean", total.modelWaitNanos() / 1e6 / n);
        long jvms = Math.max(1, ran.stream().map(ShardReport::jvm).filter(java.util.Objects::nonNull).distinct().count());
        double wall = Math.max(1e-9, seconds) * 1e9;
        stages.put("decode_busy_fraction", total.decodeNanos() / (wall * job.decodeThreads() * jvms));
        stages.put("fetches_in_flight_mean", total.fetchNanos() / wall);
        stages.put("decode_cpu_seconds", total.decodeNanos() / 1e9);
        return stages;
    }

    /**
     * What a job would do, without predicting anything but a short calibration sample and without
     * writing anything: tiles selected (exact: rows of the parts the area touches are read and
     * filtered), shards, bytes to read, and time estimates from the calibrated rate.
     */
    public record Plan(long tilesInSurvey, long tilesSelected, int shards, int rowsPerShard, Calibration calibration, double bytesToRead,
                       double secondsHere, String output, boolean outputExists) {
        /** Seconds on {@code workers} machines like this one. */
        public double secondsOn(int workers) {
            return secondsHere / Math.max(1, workers);
        }
    }

    public static Plan plan(InferenceJobSpec job, BoundingBox areaBox, Options options, int parallelism) {
        S3Settings s3 = S3Settings.fromEnvironment();
        try (ObjectStore out = ObjectStores.open(URI.create(job.outputRoot()), s3);
             ObjectStore survey = ObjectStores.open(URI.create(job.surveyRoot()), s3)) {
            Manifest manifest = Manifest.open(survey);
            dev.canopy.imagery.Area area = job.area();
            long selected = 0;
            for (dev.canopy.imagery.ManifestIndex.Part p : manifest.index().parts()) {
                if (areaBox != null && !areaBox.intersects(p.bbox())) continue;
                if (area == null) {
                    selected += p.rows();
                } else {
                    try (var rows = manifest.rows(p)) {
                        selected += rows.filter(r -> area.intersects(r.bbox())).count();
                    }
                }
            }
            Calibration c = Calibration.measure(job, manifest, InferencePlanner.plan(manifest, areaBox, Integer.MAX_VALUE), Calibration.DEFAULT_TILES,
                    Calibration.DEFAULT_TIME);
            Integer recorded = options.resume() ? recordedRowsPerShard(out) : null;
            int rowsPerShard = options.rowsPerShard() > 0 ? options.rowsPerShard()
                    : recorded != null ? recorded : c.rowsPerShard(parallelism, Calibration.SHARD_TARGET);
            int shards = InferencePlanner.plan(manifest, areaBox, rowsPerShard).size();
            double seconds = c.tilesPerSecond() > 0 ? selected / c.tilesPerSecond() : Double.NaN;
            return new Plan(manifest.rowCount(), selected, shards, rowsPerShard, c, selected * c.meanBytes(), seconds, job.outputRoot(),
                    out.exists(JOB));
        }
    }

    /** Busy share of the model replicas over the job, from each JVM's cumulative pool counters. */
    static double busyFraction(List<ShardReport> reports, double seconds) {
        Map<String, long[]> byJvm = new LinkedHashMap<>();
        for (ShardReport r : reports) {
            if (r.jvm() == null || r.poolBusyEnd() == 0) continue;
            long[] m = byJvm.computeIfAbsent(r.jvm(), k -> new long[] {Long.MAX_VALUE, 0, r.replicas()});
            m[0] = Math.min(m[0], r.poolBusyStart());
            m[1] = Math.max(m[1], r.poolBusyEnd());
        }
        if (byJvm.isEmpty()) return Double.NaN;
        double busy = 0, capacity = 0;
        for (long[] m : byJvm.values()) {
            busy += m[1] - m[0];
            capacity += seconds * 1e9 * m[2];
        }
        return busy / capacity;
    }

    /** The checks of {@link #prepareOutput} that need no plan: refuse before any work or any progress is written. */
    private static void refuseForeignOutput(ObjectStore out, Options options) {
        boolean exists = out.exists(JOB);
        if (exists && !options.resume() && !options.overwrite()) {
            boolean finished = out.exists(SUCCESS);
            throw new CanopyException("infer.output_exists", (finished ? "a finished job" : "an unfinished job") + " already wrote to " + out.root(),
                    finished ? "pass --overwrite to replace it, or choose another --out" : "pass --resume to continue it, --overwrite to start again");
        }
        if (options.resume() && !exists) throw new CanopyException("infer.nothing_to_resume", "no job to resume at " + out.root(), "start it without --resume");
    }

    /** The rows per shard a job recorded before its first shard, or null (no job, or one from before this was recorded). */
    private static Integer recordedRowsPerShard(ObjectStore out) {
        if (!out.exists(JOB)) return null;
        try {
            JsonNode j = Json.MAPPER.readTree(out.get(JOB));
            // a job recorded before plans carried their shard size used the old fixed default
            return j.has("rowsPerShard") ? j.get("rowsPerShard").asInt() : InferenceJobSpec.DEFAULT_ROWS_PER_SHARD;
        } catch (IOException e) {
            throw new CanopyException("infer.corrupt_job", "cannot read " + out.uri(JOB), "use --overwrite", e);
        }
    }

    private static void prepareOutput(ObjectStore out, InferenceJobSpec job, Options options, String digest, int shards, int rowsPerShard,
                                      Calibration calibration) {
        boolean exists = out.exists(JOB);
        if (exists && options.overwrite()) {
            List<String> keys;
            try (var s = out.listAll("")) {
                keys = s.map(ObjectInfo::key).filter(k -> !k.startsWith("_logs/") && !k.equals(JobProgress.FILE))
                        .collect(Collectors.toList()); // the running command's log and live progress stay
            }
            keys.forEach(out::delete);
            exists = false;
        }
        if (exists && !options.resume()) {
            boolean finished = out.exists(SUCCESS);
            throw new CanopyException("infer.output_exists", (finished ? "a finished job" : "an unfinished job") + " already wrote to " + out.root(),
                    finished ? "pass --overwrite to replace it, or choose another --out" : "pass --resume to continue it, --overwrite to start again");
        }
        if (options.resume()) {
            if (!exists) throw new CanopyException("infer.nothing_to_resume", "no job to resume at " + out.root(), "start it without --resume");
            try {
                JsonNode j = Json.MAPPER.readTree(out.get(JOB));
                if (!digest.equals(j.path("planDigest").asText())) {
                    throw new CanopyException("infer.plan_changed", "the job at " + out.root() + " was planned differently (other manifest, area or shard size)",
                            "resume with the same arguments, or use --overwrite");
                }
            } catch (IOException e) {
                throw new CanopyException("infer.corrupt_job", "cannot read " + out.uri(JOB), "use --overwrite", e);
            }
            out.delete(SUCCESS);
            out.delete(SUMMARY); // an earlier run's outcome; this run writes its own
            return;
        }
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("job", job);
        j.put("planDigest", digest);
        j.put("shards", shards);
        j.put("rowsPerShard", rowsPerShard);
        if (calibration != null) j.put("calibration", calibration);
        j.put("createdAt", Instant.now().toString());
        out.put(JOB, Json.write(j));
    }

    /** Reads a finished job's summary. */
    public static Summary readSummary(ObjectStore out) {
        try {
            return Json.read(out.get(SUMMARY), Summary.class, "summary");
        } catch (StorageException.NotFound e) {
            throw new CanopyException("infer.no_summary", "no summary at " + out.uri(SUMMARY), "the job has not finished", e);
        }
    }
}
