package dev.canopy.batch;

import dev.canopy.imagery.ManifestRow;
import dev.canopy.model.Classification;

/**
 * The outcome for one tile: {@code status} {@code ok} with the model's {@link Classification}, or
 * {@code error} with a message (missing object, corrupt image, model failure). Every input row
 * yields exactly one.
 */
public record InferenceResult(ManifestRow row, String status, String error, Classification classification) {
    public static final String OK = "ok";
    public static final String ERROR = "error";

    public static InferenceResult ok(ManifestRow row, Classification c) {
        return new InferenceResult(row, OK, null, c);
    }

    public static InferenceResult error(ManifestRow row, String message) {
        return new InferenceResult(row, ERROR, message, null);
    }

    public boolean isOk() {
        return OK.equals(status);
    }
}
