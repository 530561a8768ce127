package dev.canopy.serve;

import dev.canopy.api.CanopyException;
import dev.canopy.model.PredictorPool;
import dev.canopy.storage.StorageException;
import dev.canopy.storage.UriPolicy;
import dev.canopy.imagery.ImageDecodeException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * An error answered with an HTTP status and an RFC 9457 {@code application/problem+json} body whose
 * {@code code} member is stable. {@link #of} is the one place where any failure becomes an answer.
 */
public final class ApiError extends RuntimeException {
    public static final String PROBLEM_JSON = "application/problem+json";
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

    /** Overload: the caller should retry after a second. */
    public static ApiError overloaded(String why) {
        return new ApiError(429, "overloaded", why + "; retry shortly", "1");
    }

    /**
     * Any failure as the answer the client sees, after unwrapping {@link CompletionException} and
     * {@link ExecutionException}. Unknown failures are 500 with a generic message (the details go to the log).
     */
    public static ApiError of(Throwable e, long timeoutMillis) {
        Throwable c = e;
        while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) c = c.getCause();
        if (c instanceof ApiError a) return a;
        if (c instanceof TimeoutException || c instanceof PredictorPool.DeadlineExceeded) {
            return new ApiError(503, "timeout", "no answer within " + timeoutMillis + " ms; retry shortly", "1");
        }
        if (c instanceof RejectedExecutionException) return overloaded("the server is at capacity");
        if (c instanceof ImageDecodeException) return new ApiError(400, "bad_image", c.getMessage());
        if (c instanceof UriPolicy.Forbidden f) return new ApiError(403, "uri_not_allowed", f.oneLine());
        if (c instanceof StorageException.NotFound) return new ApiError(404, "object_not_found", c.getMessage());
        if (c instanceof StorageException.TooLarge || c instanceof StorageException.NotRegular) return new ApiError(400, "bad_object", c.getMessage());
        // the server's own storage trouble: no SDK detail, endpoint or credential hint goes to the client
        if (c instanceof StorageException.Transient) return new ApiError(503, "storage_unavailable", "object storage is unavailable; retry shortly", "1");
        if (c instanceof StorageException.AccessDenied) return new ApiError(502, "storage_denied", "the server may not read this object");
        if (c instanceof StorageException) return new ApiError(502, "storage_error", "the server could not read this object");
        if (c instanceof CanopyException ce) return new ApiError(400, ce.code(), ce.oneLine());
        return new ApiError(500, "internal", "internal error; the server log has the details");
    }

    /** The RFC 9457 body. */
    public Map<String, Object> problem() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "urn:canopy:problem:" + code);
        m.put("title", code.replace('_', ' '));
        m.put("status", status);
        m.put("detail", getMessage());
        m.put("code", code);
        return m;
    }
}
