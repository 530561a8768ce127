package dev.canopy.model;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
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
        Measured m = read().get(key);
        if (m == null) {
            say.accept("measuring which engine runs " + key + " faster on this host (once; kept in " + file + ")");
            m = measure(pkg);
            Map<String, Measured> all = new TreeMap<>(read());
            all.put(key, m);
            write(all);
            say.accept(String.format("  pytorch %.0f img/s, onnx %.0f img/s at batch %d: %s", m.pytorchImagesPerSecond(), m.onnxImagesPerSecond(), m.batch(), m.engine()));
        }
        return InferenceEngine.of(m.engine());
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

    static String key(ModelCard card) {
        return card.format() + ":" + card.architecture() + "@" + card.inputSize() + "/" + card.classes().size();
    }

    private Measured measure(ModelPackage pkg) {
        int s = pkg.card().inputSize();
        float[] x = new float[BATCH * 3 * s * s];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        double pt;
        try (TileClassifier c = pkg.load(null, InferenceEngine.PYTORCH)) {
            pt = rate(c, x);
        }
        double onnx;
        try (TileClassifier c = pkg.load(null, InferenceEngine.ONNX)) {
            onnx = rate(c, x);
        }
        return new Measured(onnx > pt ? "onnx" : "pytorch", round(pt), round(onnx), BATCH, clock.instant().toString());
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }

    static double rate(TileClassifier c, float[] x) {
        c.predict(x, BATCH);
        c.predict(x, BATCH);
        long t0 = System.nanoTime();
        long images = 0;
        while (System.nanoTime() - t0 < MEASURE_NANOS) {
            c.predict(x, BATCH);
            images += BATCH;
        }
        return images / ((System.nanoTime() - t0) / 1e9);
    }

    private void write(Map<String, Measured> all) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(all));
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the engine choice in " + file, e);
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
