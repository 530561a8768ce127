package dev.canopy.model;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which runtime executes a model. Canopy-trained packages run on either (ONNX through the exported
 * graph), TorchScript imports on PyTorch only, ONNX imports on ONNX Runtime only. {@link #AUTO} takes
 * the faster one as measured on this host ({@link EngineChoice}).
 */
public enum InferenceEngine {
    AUTO, PYTORCH, ONNX;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static InferenceEngine of(String id) {
        if (id == null || id.isBlank()) return AUTO;
        for (InferenceEngine e : values()) if (e.id().equals(id.trim().toLowerCase(Locale.ROOT))) return e;
        throw new ModelException("model.unknown_engine", "unknown inference engine '" + id + "'",
                "use one of " + Arrays.stream(values()).map(InferenceEngine::id).toList());
    }

    /** Whether a package of {@code format} can run on this (concrete) engine. */
    public boolean runs(String format) {
        return switch (this) {
            case AUTO -> true;
            case PYTORCH -> !format.equals(ModelCard.FORMAT_ONNX);
            case ONNX -> !format.equals(ModelCard.FORMAT_TORCHSCRIPT);
        };
    }
}
