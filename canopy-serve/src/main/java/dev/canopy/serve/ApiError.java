package dev.canopy.serve;

/** An error answered with an HTTP status and a JSON body {@code {code, message}}; codes are stable. */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String code;
    private final String retryAfterSeconds;

    public ApiError(int status, String code, String message) {
        this(status, code, message, null);
    }

    public ApiError(int status, String code, String message, String retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int status() { return status; }
    public String code() { return code; }
    public String retryAfterSeconds() { return retryAfterSeconds; }
}
