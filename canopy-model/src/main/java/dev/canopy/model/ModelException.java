package dev.canopy.model;

import dev.canopy.api.CanopyException;

/** A model, checkpoint, package or registry problem, with a stable code and a fix. */
public class ModelException extends CanopyException {
    public ModelException(String code, String message, String fix, Throwable cause) {
        super(code, message, fix, cause);
    }

    public ModelException(String code, String message, String fix) {
        super(code, message, fix, null);
    }
}
