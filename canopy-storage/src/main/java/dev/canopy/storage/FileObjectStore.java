package dev.canopy.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.FileVisitResult;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An {@link ObjectStore} over a local folder: the zero-setup default. Writes go to a temporary
 * sibling and are renamed into place, so readers never see partial objects.
 */
public final class FileObjectStore implements ObjectStore {
    public static final int DEFAULT_IO_THREADS = 8;

    private final Path root;
    private final ExecutorService io;

    public FileObjectStore(Path root) {
        this(root, DEFAULT_IO_THREADS);
    }

    public FileObjectStore(Path root, int ioThreads) {
        this.root = root.toAbsolutePath().normalize();
        AtomicInteger n = new AtomicInteger();
        this.io = Executors.newFixedThreadPool(ioThreads, r -> {
            Thread t = new Thread(r, "canopy-file-io-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public Path rootPath() {
        return root;
    }

    @Override
    public URI root() {
        String s = root.toUri().toString();
        return URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
    }

    /** The local path of a key; rejects keys that would leave the root even after symlink-free normalisation. */
    public Path path(String key) {
        Path p = root.resolve(Keys.check(key)).normalize();
        if (!p.startsWith(root)) throw new StorageException.InvalidKey(key, "resolves outside " + root);
        return p;
    }

    @Override
    public byte[] get(String key) {
        Path p = path(key);
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw translate(key, e);
        }
    }

    @Override
    public CompletableFuture<byte[]> getAsync(String key) {
        Path p = path(key); // validate on the caller's thread
        return CompletableFuture.supplyAsync(() -> {
            try {
                return Files.readAllBytes(p);
            } catch (IOException e) {
                throw translate(key, e);
            }
        }, io);
    }

    @Override
    public CompletableFuture<byte[]> getAsync(String key, long maxBytes) {
        Path p = path(key);
        return CompletableFuture.supplyAsync(() -> {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                if (!a.isRegularFile()) throw new StorageException.NotRegular(root + "/" + key);
                if (a.size() > maxBytes) throw new StorageException.TooLarge(root + "/" + key, maxBytes);
                // the file may grow between the size check and the read: read at most maxBytes + 1
                try (InputStream in = Files.newInputStream(p)) {
                    byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 9L, maxBytes) + 1); // no overflow at Long.MAX_VALUE; one array holds it
                    if (b.length > maxBytes) throw new StorageException.TooLarge(root + "/" + key, maxBytes);
                    return b;
                }
            } catch (IOException e) {
                throw translate(key, e);
            }
        }, io);
    }

    @Override
    public InputStream openStream(String key, long offset, long length) {
        Path p = path(key);
        try {
            SeekableByteChannel ch = Files.newByteChannel(p, StandardOpenOption.READ);
            ch.position(offset);
            InputStream in = Channels.newInputStream(ch);
            return length < 0 ? in : new BoundedInputStream(in, length);
        } catch (IOException e) {
            throw translate(key, e);
        }
    }

    @Override
    public void put(String key, byte[] data) {
        writeAtomically(key, tmp -> Files.write(tmp, data));
    }

    @Override
    public void put(String key, Path file) {
        writeAtomically(key, tmp -> Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING));
    }

    private interface Filler {
        void fill(Path tmp) throws IOException;
    }

    /** Fills a temporary sibling, then renames it over the target: readers see the old or the new object, never a part. */
    private void writeAtomically(String key, Filler filler) {
        Path p = path(key);
        try {
            Files.createDirectories(p.getParent());
            Path tmp = Files.createTempFile(p.getParent(), ".tmp-", ".part");
            try {
                filler.fill(tmp);
                Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw translate(key, e);
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) {
        Path p = path(key);
        try {
            Files.createDirectories(p.getParent());
            Path tmp = Files.createTempFile(p.getParent(), ".tmp-", ".part");
            try {
                Files.write(tmp, data);
                // a hard link fails atomically if the target exists, and the target is complete when visible
                Files.createLink(p, tmp);
                return true;
            } catch (FileAlreadyExistsException exists) {
                return java.util.Arrays.equals(Files.readAllBytes(p), data); // our own earlier write, retried
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw translate(key, e);
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) {
        Path p = path(key);
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (!a.isRegularFile()) return Optional.empty();
            return Optional.of(new ObjectInfo(key, a.size(), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw translate(key, e);
        }
    }

    @Override
    public void delete(String key) {
        try {
            Files.deleteIfExists(path(key));
        } catch (IOException e) {
            throw translate(key, e);
        }
    }

    @Override
    public ListPage list(String prefix, String token, int maxKeys) {
        String pre = Keys.checkPrefix(prefix);
        // walk only the deepest folder the prefix names, not the whole root
        int slash = pre.lastIndexOf('/');
        Path start = slash < 0 ? root : root.resolve(pre.substring(0, slash));
        if (!Files.isDirectory(start)) return new ListPage(List.of(), null);
        List<String> keys = new ArrayList<>();
        try {
            // files may come and go while we walk (other writers' temporary files): skip what vanished
            Files.walkFileTree(start, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                    if (!attrs.isRegularFile() || f.getFileName().toString().startsWith(".tmp-")) return FileVisitResult.CONTINUE;
                    String k = root.relativize(f).toString().replace('\\', '/');
                    if (k.startsWith(pre) && (token == null || k.compareTo(token) > 0)) keys.add(k);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + start + " failed", e);
        }
        keys.sort(null);
        List<ObjectInfo> page = new ArrayList<>();
        for (String k : keys) {
            if (page.size() == maxKeys) break;
            stat(k).ifPresent(page::add);
        }
        String next = keys.size() > page.size() && !page.isEmpty() ? page.get(page.size() - 1).key() : null;
        return new ListPage(page, next);
    }

    @Override
    public void close() {
        io.shutdown();
    }

    private StorageException translate(String key, IOException e) {
        String u = root + "/" + key;
        if (e instanceof NoSuchFileException) return new StorageException.NotFound(u, e);
        if (e instanceof AccessDeniedException) return new StorageException.AccessDenied(u, e);
        return new StorageException.Transient(u, e);
    }

    /** Limits a stream to a byte count (a ranged read of a local file). */
    private static final class BoundedInputStream extends java.io.FilterInputStream {
        private long left;

        BoundedInputStream(InputStream in, long limit) {
            super(in);
            this.left = limit;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) return -1;
            int b = super.read();
            if (b >= 0) left--;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) return -1;
            int n = super.read(b, off, (int) Math.min(len, left));
            if (n > 0) left -= n;
            return n;
        }
    }
}
