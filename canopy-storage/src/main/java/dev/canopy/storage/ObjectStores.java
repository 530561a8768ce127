package dev.canopy.storage;

import java.net.URI;
import java.nio.file.Path;

/**
 * Opens stores from user-supplied locations. A location is a URI ({@code file:///x},
 * {@code s3://bucket/prefix}) or a plain local path, relative paths being taken from the working directory.
 */
public final class ObjectStores {
    private ObjectStores() { }

    /** Turns user input into a URI: plain paths become absolute {@code file:} URIs. */
    public static URI toUri(String location) {
        if (location == null || location.isBlank()) {
            throw new StorageException("storage.bad_location", "empty storage location", "give a path, file:// or s3:// URI", null);
        }
        if (location.startsWith("s3://") || location.startsWith("file:")) {
            URI u = URI.create(location.endsWith("/") ? location.substring(0, location.length() - 1) : location);
            if (u.getScheme().equals("s3") && (u.getHost() == null || u.getHost().isBlank())) {
                throw new StorageException("storage.bad_location", "s3 location without a bucket: " + location,
                        "write s3://BUCKET/prefix", null);
            }
            return u;
        }
        if (location.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
            throw new StorageException("storage.unsupported_scheme", "unsupported storage scheme in " + location,
                    "use a local path, file:// or s3://", null);
        }
        String u = Path.of(location).toAbsolutePath().normalize().toUri().toString();
        return URI.create(u.endsWith("/") ? u.substring(0, u.length() - 1) : u);
    }

    /** A store rooted at the location, S3 configured from the environment. */
    public static ObjectStore open(String location) {
        return open(toUri(location), S3Settings.fromEnvironment());
    }

    public static ObjectStore open(URI root, S3Settings s3) {
        return switch (root.getScheme()) {
            case "file" -> new FileObjectStore(Path.of(root));
            case "s3" -> new S3ObjectStore(root, s3);
            default -> throw new StorageException("storage.unsupported_scheme", "unsupported storage scheme: " + root,
                    "use a local path, file:// or s3://", null);
        };
    }

    /** Splits an object URI into its parent (a store root) and the last segment (the key). */
    public static URI parentOf(URI object) {
        String s = object.toString();
        int i = s.lastIndexOf('/');
        return URI.create(s.substring(0, i));
    }

    public static String nameOf(URI object) {
        String s = object.toString();
        return s.substring(s.lastIndexOf('/') + 1);
    }

    /** The key of {@code object} relative to {@code root}, or null if it does not lie under it. */
    public static String relativeKey(URI root, URI object) {
        String r = root.toString();
        if (!r.endsWith("/")) r = r + "/";
        String o = object.toString();
        return o.startsWith(r) ? o.substring(r.length()) : null;
    }
}
