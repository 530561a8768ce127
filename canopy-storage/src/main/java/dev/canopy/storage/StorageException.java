package dev.canopy.storage;

import dev.canopy.api.CanopyException;

/**
 * A storage failure, typed so callers can decide: {@link NotFound} and {@link AccessDenied} are
 * final (a batch job turns them into error rows), {@link Transient} is worth retrying,
 * {@link InvalidKey} is a bug or bad input and never retried.
 */
public class StorageException extends CanopyException {
    public StorageException(String code, String message, String fix, Throwable cause) {
        super(code, message, fix, cause);
    }

    public static final class NotFound extends StorageException {
        public NotFound(String uri, Throwable cause) {
            super("storage.not_found", "object not found: " + uri, "check the URI and that the object was written", cause);
        }
    }

    public static final class AccessDenied extends StorageException {
        public AccessDenied(String uri, Throwable cause) {
            super("storage.access_denied", "access denied: " + uri,
                    "check credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE) and bucket permissions", cause);
        }
    }

    public static final class Transient extends StorageException {
        public Transient(String uri, Throwable cause) {
            super("storage.transient", "temporary storage failure on " + uri + ": " + describe(cause),
                    "retry; if it persists check the endpoint and network", cause);
        }
    }

    public static final class InvalidKey extends StorageException {
        public InvalidKey(String key, String why) {
            super("storage.invalid_key", "invalid object key '" + key + "': " + why,
                    "use a relative key inside the store, without '..' segments or a leading '/'", null);
        }
    }

    public static final class AlreadyExists extends StorageException {
        public AlreadyExists(String uri) {
            super("storage.exists", "object already exists: " + uri, "choose another key or delete the object", null);
        }
    }

    /** An object bigger than the reader's cap: refused before it is read into memory. */
    public static final class TooLarge extends StorageException {
        public TooLarge(String uri, long limit) {
            super("storage.too_large", "object larger than " + limit + " bytes: " + uri, "send smaller objects or raise the size limit", null);
        }
    }

    /** Not a regular file (a device, a folder, a pipe): never read. */
    public static final class NotRegular extends StorageException {
        public NotRegular(String uri) {
            super("storage.not_regular", "not a regular file: " + uri, "point at an image file", null);
        }
    }

    static String describe(Throwable t) {
        if (t == null) return "unknown";
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
}
