package dev.canopy.control;

import dev.canopy.serve.ApiError;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.StorageException;
import dev.canopy.storage.UriPolicy;
import java.net.URI;

/**
 * Reads tile images for the dashboard. The URI comes from a job's own results, but it is checked against the
 * server's allowed prefixes all the same ({@link UriPolicy}): a job's rows must not turn the server into a reader
 * of files it was never allowed to open. Only images a browser shows (JPEG, PNG, WebP, by their first bytes)
 * are served, at most {@link #MAX_BYTES} each. Threads: any.
 */
final class TileImages {
    static final long MAX_BYTES = 32L << 20;

    record Image(String contentType, byte[] bytes) { }

    private final UriPolicy allow;
    private final S3Settings s3;

    TileImages(UriPolicy allow, S3Settings s3) {
        this.allow = allow;
        this.s3 = s3;
    }

    /**
     * The image at {@code uri}, which must lie under the server's allowed prefixes and under {@code surveyRoot}, the survey
     * the job read: a manifest's rows may name any object, and a team must not read another team's pixels through
     * a survey of its own whose rows point elsewhere.
     */
    Image read(String uri, String surveyRoot) {
        URI checked;
        String root;
        try {
            checked = allow.check(uri);
            root = surveyRoot == null ? null : allow.check(surveyRoot).toString();
        } catch (UriPolicy.Forbidden e) {
            throw refused(); // the policy's message names the prefixes and the path: not for this caller
        }
        if (root == null) throw refused();
        if (!root.endsWith("/")) root = root + "/";
        if (!checked.toString().startsWith(root)) throw refused();
        byte[] bytes;
        try (ObjectStore store = ObjectStores.open(ObjectStores.parentOf(checked), s3)) {
            bytes = store.getAsync(ObjectStores.nameOf(checked), MAX_BYTES).join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof StorageException.NotFound ? gone() : e;
        } catch (StorageException.NotFound e) {
            throw gone();
        }
        String type = contentType(bytes);
        if (type == null) throw new ApiError(415, "not_displayable", "the tile is not a JPEG, PNG or WebP image, so a browser cannot show it");
        return new Image(type, bytes);
    }

    /** The image type from the file's first bytes (its name may say anything). */
    static String contentType(byte[] b) {
        if (b.length >= 3 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8 && (b[2] & 0xff) == 0xFF) return "image/jpeg";
        if (b.length >= 8 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return "image/png";
        if (b.length >= 12 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F' && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
            return "image/webp";
        }
        return null;
    }

    private static ApiError refused() {
        return new ApiError(403, "uri_not_allowed", "the tile's image lies outside the job's survey or the places this server may read (--allow-uris)");
    }

    private static ApiError gone() {
        return new ApiError(404, "tile_image_not_found", "the tile's image is no longer where the job read it");
    }
}
