package dev.canopy.bench;

import dev.canopy.batch.ExecutorResources;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.InferenceResult;
import dev.canopy.batch.PipelineStats;
import dev.canopy.batch.ShardReport;
import dev.canopy.batch.ShardSpec;
import dev.canopy.batch.ShardWriter;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Classification;
import dev.canopy.model.ModelPackage;
import dev.canopy.model.TileClassifier;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The baseline Canopy is measured against (benchmarks only): the fused pattern of DJL's Spark
 * extension, where each task fetches a batch, decodes it and runs the model one step after another
 * on its own thread, with one model per executor. Same inputs, outputs and commit protocol
 * ({@link ShardWriter}) as {@code ShardTask}.
 *
 * <p>One model per JVM at a time: a task for another model closes the previous one (benchmarks run
 * models one after the other); {@link #reset} closes it.
 */
public final class NaiveShardTask {
    private static String loadedKey;
    private static TileClassifier loaded;

    private NaiveShardTask() { }

    private static synchronized TileClassifier model(InferenceJobSpec job, S3Settings s3) {
        String key = job.modelRoot() + "|" + job.modelPrefix();
        if (key.equals(loadedKey)) return loaded;
        reset();
        try (ObjectStore store = ObjectStores.open(URI.create(job.modelRoot()), s3)) {
            loaded = ModelPackage.open(store, job.modelPrefix()).load(Files.createTempDirectory("canopy-naive-model"));
            loadedKey = key;
            return loaded;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Closes the loaded model. */
    public static synchronized void reset() {
        if (loaded != null) loaded.close();
        loaded = null;
        loadedKey = null;
    }

    public static ShardReport run(ShardSpec spec, InferenceJobSpec job) {
        long t0 = System.nanoTime();
        S3Settings s3 = S3Settings.fromEnvironment();
        TileClassifier model = model(job, s3);
        ImageDecoder decoder = model.card().decoder();
        PipelineStats stats = new PipelineStats();
        try (ObjectStore out = ObjectStores.open(URI.create(job.outputRoot()), s3);
             ObjectStore survey = ObjectStores.open(URI.create(job.surveyRoot()), s3)) {
            Manifest manifest = Manifest.open(survey);
            ManifestIndex.Part part = manifest.part(spec.partKey());
            try (Stream<ManifestRow> rows = manifest.rows(part, spec.skip(), spec.count());
                 ShardWriter writer = new ShardWriter(spec, out, model.card().classes(), Map.of())) {
                Iterator<ManifestRow> it = rows.iterator();
                int plane = 3 * decoder.size() * decoder.size();
                while (it.hasNext()) {
                    List<ManifestRow> batch = new ArrayList<>();
                    while (it.hasNext() && batch.size() < job.maxBatch()) batch.add(it.next());
                    List<InferenceResult> results = new ArrayList<>();
                    List<ManifestRow> good = new ArrayList<>();
                    List<float[]> tensors = new ArrayList<>();
                    for (ManifestRow r : batch) {
                        try {
                            byte[] bytes = ExecutorResources.source().fetch(URI.create(r.uri())).join();
                            stats.recordBytes(bytes.length);
                            tensors.add(decoder.decode(bytes, r.uri()));
                            good.add(r);
                        } catch (RuntimeException e) {
                            results.add(InferenceResult.error(r, e.getMessage()));
                        }
                    }
                    if (!good.isEmpty()) {
                        float[] x = new float[good.size() * plane];
                        for (int i = 0; i < good.size(); i++) System.arraycopy(tensors.get(i), 0, x, i * plane, plane);
                        float[] p = model.predict(x, good.size());
                        int c = model.card().classes().size();
                        for (int i = 0; i < good.size(); i++) {
                            float[] pi = new float[c];
                            System.arraycopy(p, i * c, pi, 0, c);
                            results.add(InferenceResult.ok(good.get(i), new Classification(model.card().classes(), pi)));
                        }
                    }
                    for (InferenceResult r : results) {
                        writer.write(r);
                        stats.recordRow(r.isOk());
                    }
                }
                return writer.commit(bytes -> new ShardReport(spec.index(), spec.shardKey(), stats.snapshot(), bytes,
                        (System.nanoTime() - t0) / 1e9, false, ShardReport.currentJvm(), 0, 0, 1));
            }
        }
    }
}
