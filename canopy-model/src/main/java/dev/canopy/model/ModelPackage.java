package dev.canopy.model;

import dev.canopy.api.Json;
import dev.canopy.storage.Keys;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.StorageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model package: {@code model.json} ({@link ModelCard}) plus one weights file whose name depends on
 * the format ({@code weights.params}, {@code model.pt} or {@code model.onnx}), under a folder of an
 * object store. {@code model.json} is written last, so a package without it is incomplete.
 */
public final class ModelPackage {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelPackage.class);
    public static final String CARD = "model.json";
    public static final Map<String, String> WEIGHTS_FILE = Map.of(
            ModelCard.FORMAT_DJL, "weights.params",
            ModelCard.FORMAT_TORCHSCRIPT, "model.pt",
            ModelCard.FORMAT_ONNX, "model.onnx");
    /** The ONNX graph a Canopy-trained ({@code djl}) package carries beside its weights, exported when it was registered. */
    public static final String EXPORTED_ONNX = "model.onnx";

    private final ObjectStore store;
    private final String prefix;
    private final ModelCard card;

    private ModelPackage(ObjectStore store, String prefix, ModelCard card) {
        this.store = store;
        this.prefix = prefix;
        this.card = card;
    }

    public ModelCard card() {
        return card;
    }

    public static String weightsFile(String format) {
        String f = WEIGHTS_FILE.get(format);
        if (f == null) throw new ModelException("model.unknown_format", "unknown model format '" + format + "'", "use one of " + WEIGHTS_FILE.keySet());
        return f;
    }

    public static ModelPackage write(ObjectStore store, String prefix, ModelCard card, byte[] weights) {
        // exported first: weights that cannot be read are refused before anything is stored
        byte[] onnx = card.format().equals(ModelCard.FORMAT_DJL) ? OnnxExport.export(card, weights) : null;
        store.put(Keys.join(prefix, weightsFile(card.format())), weights);
        if (onnx != null) store.put(Keys.join(prefix, EXPORTED_ONNX), onnx);
        store.put(Keys.join(prefix, CARD), Json.write(card));
        return new ModelPackage(store, prefix, card);
    }

    public static ModelPackage open(ObjectStore store, String prefix) {
        byte[] json;
        try {
            json = store.get(Keys.join(prefix, CARD));
        } catch (StorageException.NotFound e) {
            throw new ModelException("model.not_a_package", "no model package at " + store.uri(Keys.join(prefix, CARD)),
                    "a package folder holds model.json and its weights", e);
        }
        return new ModelPackage(store, prefix, Json.read(json, ModelCard.class, "model.json at " + store.uri(Keys.join(prefix, CARD))));
    }

    public byte[] weights() {
        return store.get(Keys.join(prefix, weightsFile(card.format())));
    }

    /** Loads the model on the PyTorch engine (ONNX Runtime for ONNX imports); see {@link #load(Path, InferenceEngine)}. */
    public TileClassifier load(Path cacheDir) {
        return load(cacheDir, card.format().equals(ModelCard.FORMAT_ONNX) ? InferenceEngine.ONNX : InferenceEngine.PYTORCH);
    }

    /**
     * Loads the model for prediction on {@code engine} (concrete: resolve {@link InferenceEngine#AUTO} with
     * {@link EngineChoice} first); formats that need a local file are copied into {@code cacheDir}.
     */
    public TileClassifier load(Path cacheDir, InferenceEngine engine) {
        if (engine == InferenceEngine.AUTO || !engine.runs(card.format())) {
            throw new ModelException("model.engine_unsupported", "model '" + card.name() + "' (" + card.format() + ") cannot be loaded on engine " + engine.id(),
                    "resolve the engine with EngineChoice first");
        }
        dev.canopy.imagery.ImageDecoder.JpegMethod trained = card.jpegMethod();
        if (trained != null && !trained.availableHere()) {
            LOG.warn("model '{}' was trained on JPEG tiles decoded as {}, which this machine cannot do: its tiles are decoded as {} and differ "
                    + "slightly from what it learned on (apt-get install libturbojpeg0, and no -Dcanopy.decoder=imageio)", card.name(), trained.id(),
                    dev.canopy.imagery.ImageDecoder.JpegMethod.IMAGEIO_SUBSAMPLED.id());
        }
        return switch (card.format()) {
            case ModelCard.FORMAT_DJL -> engine == InferenceEngine.ONNX ? new OnnxClassifier(card, exportedOnnx()) : new BlockClassifier(card, weights());
            case ModelCard.FORMAT_TORCHSCRIPT -> new TorchScriptClassifier(card, local(cacheDir));
            case ModelCard.FORMAT_ONNX -> new OnnxClassifier(card, weights());
            default -> throw new ModelException("model.unsupported_format", "this build cannot run '" + card.format() + "' models",
                    "import the model as TorchScript (.pt) or ONNX (.onnx)");
        };
    }

    /** The package's exported ONNX graph; packages registered before Canopy exported one get it made now, from their weights. */
    private byte[] exportedOnnx() {
        try {
            return store.get(Keys.join(prefix, EXPORTED_ONNX));
        } catch (StorageException.NotFound e) {
            return OnnxExport.export(card, weights());
        }
    }

    private Path local(Path cacheDir) {
        try {
            Files.createDirectories(cacheDir);
            Path f = cacheDir.resolve(weightsFile(card.format()));
            store.download(Keys.join(prefix, weightsFile(card.format())), f);
            return f;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
