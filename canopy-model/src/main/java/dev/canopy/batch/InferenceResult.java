package dev.canopy.batch;

import dev.canopy.imagery.ManifestRow;

/**
 * The outcome for one tile: {@code status} {@code ok} with class probabilities, or {@code error}
 * with a message (missing object, corrupt image, model failure). Every input row yields exactly one.
 */
public record InferenceResult(ManifestRow row, String status, String error, float[] probabilities) {
    public static final String OK = "ok";
    public static final String ERROR = "error";

    public static InferenceResult ok(ManifestRow row, float[] p) {
        return new InferenceResult(row, OK, null, p);
    }

    public static InferenceResult error(ManifestRow row, String message) {
        return new InferenceResult(row, ERROR, message, null);
    }

    public boolean isOk() {
        return OK.equals(status);
    }

    public int topClass() {
        int best = 0;
        for (int i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
        return best;
    }
}
