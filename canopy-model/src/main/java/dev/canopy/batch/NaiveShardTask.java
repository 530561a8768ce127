package dev.canopy.batch;

import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.ModelPackage;
import dev.canopy.model.TileClassifier;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The baseline Canopy is measured against (benchmarks only): the fused pattern of DJL's Spark
 * extension, where each task fetches a batch, decodes it and runs the model one step after another
 * on its own thread, with one model per executor. Same inputs and outputs as {@link ShardTask}.
 */
public final class NaiveShardTask {
    private static final Map<String, TileClassifier> MODELS = new ConcurrentHashMap<>();

    private NaiveShardTask() { }

    public static ShardReport run(ShardSpec spec, InferenceJobSpec job) {
        long t0 = System.nanoTime();
        S3Settings s3 = S3Settings.fromEnvironment();
        TileClassifier model = MODELS.computeIfAbsent(job.modelRoot() + "|" + job.modelPrefix(), k -> {
            ObjectStore store = ObjectStores.open(URI.create(job.modelRoot()), s3);
            try {
                return ModelPackage.open(store, job.modelPrefix()).load(Files.createTempDirectory("canopy-naive-model"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        ImageDecoder decoder = new ImageDecoder(model.card().inputSize(), model.card().mean(), model.card().std());
        PipelineStats stats = new PipelineStats();
        try (ObjectStore out = ObjectStores.open(URI.create(job.outputRoot()), s3);
             ObjectStore survey = ObjectStores.open(URI.create(job.surveyRoot()), s3)) {
            Manifest manifest = Manifest.open(survey);
            ManifestIndex.Part part = manifest.part(spec.partKey());
            Path local = Files.createTempFile("canopy-naive-" + spec.index() + "-", ".parquet");
            try (Stream<ManifestRow> rows = manifest.rows(part).skip(spec.skip()).limit(spec.count());
                 PredictionShardWriter writer = new PredictionShardWriter(local, model.card().classes(), Map.of())) {
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
                            URI u = URI.create(r.uri());
                            byte[] bytes = ExecutorResources.source().fetch(u).join();
                            stats.bytesRead.add(bytes.length);
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
                            results.add(InferenceResult.ok(good.get(i), new dev.canopy.model.Classification(model.card().classes(), pi)));
                        }
                    }
                    for (InferenceResult r : results) {
                        writer.write(r);
                        stats.rows.increment();
                        (r.isOk() ? stats.ok : stats.errors).increment();
                    }
                }
            }
            long bytes = Files.size(local);
            out.put(spec.shardKey(), local);
            Files.deleteIfExists(local);
            return new ShardReport(spec.index(), spec.shardKey(), stats.snapshot(), bytes, (System.nanoTime() - t0) / 1e9, false,
                    ShardReport.currentJvm(), 0, 0, 1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
