package dev.canopy.api.train;

import dev.canopy.api.CanopyException;

/**
 * A training run that cannot work as configured (bad settings, an empty or one-class survey, a
 * checkpoint that does not fit): retrying the same trial would fail the same way.
 */
public final class TrainingException extends CanopyException {
    public TrainingException(String code, String message, String fix, Throwable cause) {
        super(code, message, fix, cause);
    }

    public TrainingException(String code, String message, String fix) {
        super(code, message, fix);
    }
}
