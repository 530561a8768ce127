package dev.canopy.model;

import dev.canopy.api.Json;
import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.CodeVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Brings a model trained elsewhere into the registry. The model file's extension decides the
 * format ({@code .pt}: TorchScript, run by DJL's libtorch; {@code .onnx}: ONNX, run by ONNX Runtime). A small JSON metadata file gives what the file cannot:
 * {@code classes} (output order), {@code input_size}, and optionally {@code mean}, {@code std},
 * {@code architecture}. The model is loaded and run once on a dummy batch before it is registered,
 * so a file that cannot run, or whose output does not match the class list, is refused at import.
 */
public final class ModelImporter {
    static final Set<String> METADATA_KEYS = Set.of("classes", "input_size", "mean", "std", "architecture", "metrics");

    private ModelImporter() { }

    public static String formatOf(Path file) {
        String n = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (n.endsWith(".pt") || n.endsWith(".pth") || n.endsWith(".torchscript")) return ModelCard.FORMAT_TORCHSCRIPT;
        if (n.endsWith(".onnx")) return ModelCard.FORMAT_ONNX;
        throw new ModelException("model.unknown_format", "cannot tell the format of " + file, "import a TorchScript .pt or an ONNX .onnx file");
    }

    public static ModelCard readMetadata(Path metadata, String name, String format, Path modelFile) {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(Files.readAllBytes(metadata));
        } catch (IOException e) {
            throw new ModelException("model.bad_metadata", "cannot read metadata " + metadata + ": " + e.getMessage(),
                    "give a JSON file with classes and input_size");
        }
        if (n == null || !n.isObject()) throw new ModelException("model.bad_metadata", metadata + " is not a JSON object", "see canopy model import --help");
        for (var it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!METADATA_KEYS.contains(k)) {
                throw new ModelException("model.bad_metadata", "unknown key '" + k + "' in " + metadata, "known keys: " + METADATA_KEYS);
            }
        }
        JsonNode cls = n.get("classes");
        if (cls == null || !cls.isArray() || cls.size() < 2) {
            throw new ModelException("model.bad_metadata", metadata + ": 'classes' must list at least 2 class names", "e.g. \"classes\": [\"grass\", \"weed\"]");
        }
        List<String> classes = new ArrayList<>();
        cls.forEach(c -> classes.add(c.asText()));
        JsonNode size = n.get("input_size");
        if (size == null || !size.canConvertToInt() || size.asInt() < 8) {
            throw new ModelException("model.bad_metadata", metadata + ": 'input_size' must be an integer >= 8", "e.g. \"input_size\": 224");
        }
        float[] mean = floats(n.get("mean"), new float[] {0.485f, 0.456f, 0.406f}, metadata, "mean");
        float[] std = floats(n.get("std"), new float[] {0.229f, 0.224f, 0.225f}, metadata, "std");
        String arch = n.has("architecture") ? n.get("architecture").asText() : "imported";
        return new ModelCard(name, format, arch, size.asInt(), mean, std, classes, Map.of(),
                new ModelCard.Provenance(null, null, null, CodeVersion.get(), Map.of("file", modelFile.getFileName().toString()),
                        Instant.now(), "canopy model import"));
    }

    private static float[] floats(JsonNode a, float[] dflt, Path metadata, String key) {
        if (a == null) return dflt;
        if (!a.isArray() || a.size() != 3) throw new ModelException("model.bad_metadata", metadata + ": '" + key + "' needs 3 numbers (R,G,B)", "e.g. [0.5, 0.5, 0.5]");
        return new float[] {(float) a.get(0).asDouble(), (float) a.get(1).asDouble(), (float) a.get(2).asDouble()};
    }

    /** Validates the model by running it, then registers it. */
    public static ModelRegistry.Version importModel(ModelRegistry registry, String name, Path modelFile, Path metadata) {
        ModelRegistry.checkName(name);
        if (!Files.isRegularFile(modelFile)) throw new ModelException("model.file_missing", "model file not found: " + modelFile, "check the path");
        if (!Files.isRegularFile(metadata)) throw new ModelException("model.file_missing", "metadata file not found: " + metadata, "check the path");
        String format = formatOf(modelFile);
        ModelCard card = readMetadata(metadata, name, format, modelFile);
        try (TileClassifier c = format.equals(ModelCard.FORMAT_ONNX) ? new OnnxClassifier(card, Files.readAllBytes(modelFile))
                : new TorchScriptClassifier(card, modelFile)) {
            int s = card.inputSize();
            float[] probs = c.predict(new float[2 * 3 * s * s], 2); // checks the class count as well
            if (probs.length != 2 * card.classes().size()) {
                throw new ModelException("model.wrong_class_count", "model output has " + probs.length / 2 + " values per image, metadata lists "
                        + card.classes().size() + " classes", "fix 'classes' in " + metadata);
            }
        } catch (ModelException e) {
            throw e;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (RuntimeException e) {
            throw new ModelException("model.import_failed", "model " + modelFile + " does not run on a " + card.inputSize() + " px RGB batch: "
                    + e.getMessage(), "check input_size in " + metadata + " and that the model takes N x 3 x S x S floats", e);
        }
        try {
            return registry.register(name, card, Files.readAllBytes(modelFile));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
