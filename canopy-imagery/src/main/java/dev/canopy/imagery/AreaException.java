package dev.canopy.imagery;

import dev.canopy.api.CanopyException;

/** An area (GeoJSON) that cannot be used; the message names the problem and where it is. */
public class AreaException extends CanopyException {
    public AreaException(String message, String fix) {
        super("area.invalid", message, fix, null);
    }
}
