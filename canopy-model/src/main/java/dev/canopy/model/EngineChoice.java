package dev.canopy.model;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.StandardOpenOption;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Decides which engine runs a package on this host: the faster one, measured once per (format,
 * architecture, input size, class count) on this host and remembered in a per-host file
 * ({@code $CANOPY_HOME/engines/HOST.json}), not in the package, which is immutable and may be
 * run on other machines. A package that one engine cannot run needs no measurement.
 *
 * <p>The measurement runs both engines on the same random batch of {@link #BATCH} images for about a
 * second each after a warm-up; the record keeps both rates, so {@code canopy bench infer} and a
 * reader of the file can see the margin.
 */
public final class EngineChoice {
    static final int BATCH = 8;
    static final long MEASURE_NANOS = 1_000_000_000L;

    /** One host's measurement for one kind of model. */
    public record Measured(String engine, double pytorchImagesPerSecond, double onnxImagesPerSecond, int batch, String measuredAt) { }

    private final Path file;
    private final Clock clock;

    public EngineChoice(Path enginesDir, Clock clock) {
        this.file = enginesDir.resolve(host() + ".json");
        this.clock = clock;
    }

    /** The concrete engine for {@code pkg}: {@code requested} unless it is AUTO, checked against what the package can run. */
    public InferenceEngine resolve(ModelPackage pkg, InferenceEngine requested, Consumer<String> say) {
        ModelCard card = pkg.card();
        if (requested != InferenceEngine.AUTO) {
            if (!requested.runs(card.format())) {
                throw new ModelException("model.engine_unsupported", "model '" + card.name() + "' is a " + card.format() + " package; the "
                        + requested.id() + " engine cannot run it", "use --engine auto (or " + (card.format().equals(ModelCard.FORMAT_ONNX) ? "onnx" : "pytorch") + ")");
            }
            return requested;
        }
        if (card.format().equals(ModelCard.FORMAT_ONNX)) return InferenceEngine.ONNX;
        if (card.format().equals(ModelCard.FORMAT_TORCHSCRIPT)) return InferenceEngine.PYTORCH;
        String key = key(card);
        Measured known = read().get(key);
        if (known != null) return InferenceEngine.of(known.engine());
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            say.accept("cannot keep engine measurements in " + file.getParent() + " (" + e.getMessage() + "): using pytorch");
            return InferenceEngine.PYTORCH;
        }
        // one measurement at a time per host: JVMs measuring at once would slow each other and keep a wrong winner
        // (the JVM-wide monitor first: two threads of one JVM cannot both hold a file lock)
        synchronized (EngineChoice.class) {
            return resolveLocked(pkg, key, say);
        }
    }

    private InferenceEngine resolveLocked(ModelPackage pkg, String key, Consumer<String> say) {
        Measured known;
        try (FileChannel ch = FileChannel.open(file.resolveSibling(file.getFileName() + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = ch.lock()) {
            known = read().get(key); // another JVM may have measured while this one waited
            if (known != null) return InferenceEngine.of(known.engine());
            say.accept("measuring which engine runs " + key + " faster on this host (once; kept in " + file + ")");
            Measured m = measure(pkg, say);
            Map<String, Measured> all = new TreeMap<>(read());
            all.put(key, m);
            write(all, say);
            say.accept(String.format("  pytorch %.0f img/s, onnx %.0f img/s at batch %d: %s", m.pytorchImagesPerSecond(), m.onnxImagesPerSecond(), m.batch(), m.engine()));
            return InferenceEngine.of(m.engine());
        } catch (IOException e) {
            say.accept("cannot lock " + file + " (" + e.getMessage() + "): using pytorch");
            return InferenceEngine.PYTORCH;
        }
    }

    /** What this host has measured so far, by model kind. */
    public Map<String, Measured> read() {
        if (!Files.isRegularFile(file)) return Map.of();
        try {
            return Json.MAPPER.readValue(Files.readAllBytes(file), new TypeReference<LinkedHashMap<String, Measured>>() { });
        } catch (IOException e) {
            return Map.of(); // a damaged record is measured again and rewritten
        }
    }

    /** A kind of model on this host: the rates depend on the network and the cores, not on the weights. */
    static String key(ModelCard card) {
        return card.format() + ":" + card.architecture() + "@" + card.inputSize() + "/" + card.classes().size() + " on "
                + Runtime.getRuntime().availableProcessors() + " cores";
    }

    private Measured measure(ModelPackage pkg, Consumer<String> say) {
        int s = pkg.card().inputSize();
        float[] x = new float[BATCH * 3 * s * s];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        double pt;
        try (TileClassifier c = pkg.load(null, InferenceEngine.PYTORCH)) {
            pt = imagesPerSecond(c, x, BATCH, MEASURE_NANOS);
        }
        double onnx;
        try (TileClassifier c = pkg.load(null, InferenceEngine.ONNX)) {
            onnx = imagesPerSecond(c, x, BATCH, MEASURE_NANOS);
        } catch (RuntimeException | LinkageError e) {
            // ONNX Runtime missing or unable to run this graph: the job still runs, on PyTorch
            say.accept("ONNX Runtime could not run " + pkg.card().name() + " (" + e.getMessage() + "): using pytorch");
            onnx = 0;
        }
        return new Measured(onnx > pt ? "onnx" : "pytorch", pt, onnx, BATCH, clock.instant().toString());
    }

    /** Images per second of {@code c} on {@code batch} images of {@code x}, after two warm-up batches, over about {@code nanos}. */
    public static double imagesPerSecond(TileClassifier c, float[] x, int batch, long nanos) {
        c.predict(x, batch);
        c.predict(x, batch);
        long t0 = System.nanoTime();
        long images = 0;
        while (System.nanoTime() - t0 < nanos) {
            c.predict(x, batch);
            images += batch;
        }
        return images / ((System.nanoTime() - t0) / 1e9);
    }

    /** Rewrites the record atomically; a failure costs only a measurement next time. */
    private void write(Map<String, Measured> all, Consumer<String> say) {
        Path tmp = null;
        try {
            tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(all));
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            say.accept("cannot record the engine choice in " + file + " (" + e.getMessage() + "); it will be measured again next time");
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // nothing more to do
                }
            }
        }
    }

    static String host() {
        try {
            return InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (IOException e) {
            return "localhost";
        }
    }
}
