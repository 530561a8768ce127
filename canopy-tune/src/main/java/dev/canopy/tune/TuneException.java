package dev.canopy.tune;

import dev.canopy.api.CanopyException;

/** A bad search space, scheduler setting or experiment state; the message names the key. */
public class TuneException extends CanopyException {
    public TuneException(String message, String fix) {
        super("tune.invalid", message, fix, null);
    }

    public TuneException(String code, String message, String fix) {
        super(code, message, fix, null);
    }
}
