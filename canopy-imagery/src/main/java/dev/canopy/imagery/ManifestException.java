package dev.canopy.imagery;

import dev.canopy.api.CanopyException;

/** A manifest that is missing, empty or unreadable. */
public class ManifestException extends CanopyException {
    public ManifestException(String code, String message, String fix, Throwable cause) {
        super(code, message, fix, cause);
    }
}
