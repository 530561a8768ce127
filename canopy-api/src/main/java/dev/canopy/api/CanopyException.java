package dev.canopy.api;

/**
 * Base of every error Canopy reports to a user. Carries a stable machine-readable {@link #code()}
 * and, where one is known, a {@link #fix()} telling the user what to do about it. The CLI prints
 * {@code message} and {@code fix} on one line; HTTP layers map {@code code} to a status.
 */
public class CanopyException extends RuntimeException {
    private final String code;
    private final String fix;

    public CanopyException(String code, String message, String fix) {
        this(code, message, fix, null);
    }

    public CanopyException(String code, String message, String fix, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.fix = fix;
    }

    /** Stable identifier such as {@code storage.not_found}; never reworded once published. */
    public String code() {
        return code;
    }

    /** What the user can do about it, or {@code null} when nothing useful can be said. */
    public String fix() {
        return fix;
    }

    /** The message and, when present, the fix, as one line for a terminal. */
    public String oneLine() {
        String m = getMessage() == null ? code : getMessage();
        return fix == null ? m : m + " (" + fix + ")";
    }
}
