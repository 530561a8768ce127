package dev.canopy.model;

import java.util.Locale;

/** A registry lookup or naming problem; callers branch on {@link #kind()}, never on the code text. */
public final class RegistryException extends ModelException {
    public enum Kind {
        BAD_NAME, BAD_REF, BAD_STAGE, NO_STAGE, NO_VERSION, UNKNOWN_MODEL;

        /** The reference was well formed but names nothing (a 404 to a server). */
        public boolean isNotFound() {
            return this == NO_STAGE || this == NO_VERSION || this == UNKNOWN_MODEL;
        }
    }

    private final Kind kind;

    public RegistryException(Kind kind, String message, String fix) {
        super("registry." + kind.name().toLowerCase(Locale.ROOT), message, fix);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
