package dev.canopy.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Bytes by key under one root URI ({@code file:///data/survey}, {@code s3://bucket/prefix}).
 * Keys are relative, '/'-separated and may not escape the root (see {@link Keys}).
 *
 * <p>Thread-safe: one store is shared by all threads of a process. Failures are
 * {@link StorageException}s: {@code NotFound}, {@code AccessDenied}, {@code Transient} (already
 * retried with backoff where the backend supports it) or {@code InvalidKey}.
 */
public interface ObjectStore extends AutoCloseable {
    int DEFAULT_PAGE_SIZE = 1000;

    /** The root this store serves, ending without a slash. */
    URI root();

    /** The absolute URI of a key. */
    default URI uri(String key) {
        String r = root().toString();
        return URI.create(r + (r.endsWith("/") ? "" : "/") + Keys.check(key));
    }

    byte[] get(String key);

    /**
     * Fetches without blocking the caller. At most the store's configured number of requests run at
     * once; further calls queue. The future fails with a {@link StorageException}.
     */
    CompletableFuture<byte[]> getAsync(String key);

    /**
     * Like {@link #getAsync(String)} but refuses, without reading it into memory, an object larger than
     * {@code maxBytes} ({@link StorageException.TooLarge}) or one that is not a regular file
     * ({@link StorageException.NotRegular}). For objects named by someone else (a request, a manifest row).
     */
    CompletableFuture<byte[]> getAsync(String key, long maxBytes);

    /** Streams {@code length} bytes from {@code offset} ({@code length < 0}: to the end). Caller closes. */
    InputStream openStream(String key, long offset, long length);

    default InputStream openStream(String key) {
        return openStream(key, 0, -1);
    }

    /** Writes (replacing) the object; readers never see a partial object. */
    void put(String key, byte[] data);

    /** Uploads a local file. */
    void put(String key, Path file);

    /**
     * Writes only if no object has the key; returns false (and writes nothing) when another writer's
     * object exists. This is the primitive that lets concurrent writers agree (registry versions, job
     * claims).
     *
     * <p>Writers make {@code data} unique (a random token in it): when the key exists, the store reads
     * it back and answers true if it holds exactly {@code data}. So a request that succeeded but whose
     * answer was lost, and was retried (by the SDK or the caller) into "precondition failed", still
     * reports that this writer won.
     */
    boolean putIfAbsent(String key, byte[] data);

    Optional<ObjectInfo> stat(String key);

    default boolean exists(String key) {
        return stat(key).isPresent();
    }

    /** Deletes the object; deleting a missing object is not an error. */
    void delete(String key);

    /** One page of keys starting with {@code prefix}, ascending; {@code token} from the previous page or null. */
    ListPage list(String prefix, String token, int maxKeys);

    /** Every key under the prefix, fetched page by page as the stream is consumed. */
    default Stream<ObjectInfo> listAll(String prefix) {
        Iterator<ObjectInfo> it = new Iterator<>() {
            private Iterator<ObjectInfo> page = java.util.Collections.emptyIterator();
            private String token;
            private boolean first = true;

            @Override
            public boolean hasNext() {
                while (!page.hasNext() && (first || token != null)) {
                    ListPage p = list(prefix, token, DEFAULT_PAGE_SIZE);
                    first = false;
                    token = p.nextToken();
                    page = p.objects().iterator();
                }
                return page.hasNext();
            }

            @Override
            public ObjectInfo next() {
                if (!hasNext()) throw new NoSuchElementException();
                return page.next();
            }
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false);
    }

    /** Copies an object to a local file (parents created). */
    default void download(String key, Path target) {
        try (InputStream in = openStream(key)) {
            Path parent = target.toAbsolutePath().getParent();
            if (parent != null) java.nio.file.Files.createDirectories(parent);
            java.nio.file.Files.copy(in, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("download of " + uri(key) + " to " + target + " failed", e);
        }
    }

    @Override
    void close();
}
