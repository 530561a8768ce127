package dev.canopy.imagery;

import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.StorageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.io.InputFile;
import org.apache.parquet.io.LocalInputFile;

/**
 * A survey manifest in a store: its index, and its rows streamed part by part (never all in memory).
 * Parts in remote stores are copied to a local temporary file one at a time while read.
 */
public final class Manifest {
    private final ObjectStore store;
    private final ManifestIndex index;

    private Manifest(ObjectStore store, ManifestIndex index) {
        this.store = store;
        this.index = index;
    }

    /** Opens the manifest of the survey whose root is {@code store}. */
    public static Manifest open(ObjectStore store) {
        byte[] json;
        try {
            json = store.get(ManifestWriter.INDEX);
        } catch (StorageException.NotFound e) {
            throw new ManifestException("manifest.missing", "no survey manifest at " + store.uri(ManifestWriter.INDEX),
                    "point --survey at a folder made by 'canopy survey generate' (it holds manifest/_index.json)", e);
        }
        ManifestIndex index = ManifestIndex.fromJson(json);
        if (index.formatVersion() > ManifestIndex.FORMAT_VERSION) {
            throw new ManifestException("manifest.too_new", "manifest format " + index.formatVersion() + " is newer than this Canopy understands",
                    "upgrade Canopy", null);
        }
        return new Manifest(store, index);
    }

    public ManifestIndex index() {
        return index;
    }

    public ObjectStore store() {
        return store;
    }

    public long rowCount() {
        return index.rows();
    }

    public List<String> classes() {
        return index.classes();
    }

    /** The part stored under {@code key}. */
    public ManifestIndex.Part part(String key) {
        return index.parts().stream().filter(p -> p.key().equals(key)).findFirst()
                .orElseThrow(() -> new ManifestException("manifest.no_part", "manifest " + store.root() + " has no part " + key,
                        "the manifest changed since the job was planned; plan the job again", null));
    }

    /** Every row, in manifest order, read lazily. Close the stream to release the open part. */
    public Stream<ManifestRow> rows() {
        return index.parts().stream().flatMap(this::rows);
    }

    /** The rows of one part, read lazily. */
    public Stream<ManifestRow> rows(ManifestIndex.Part part) {
        PartIterator it = new PartIterator(part);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(it::close);
    }

    /** Rows of the parts whose extent passes {@code partFilter}, then filtered row by row. */
    public Stream<ManifestRow> rows(Predicate<ManifestIndex.Part> partFilter, Predicate<ManifestRow> rowFilter) {
        return index.parts().stream().filter(partFilter).flatMap(this::rows).filter(rowFilter);
    }

    private final class PartIterator implements Iterator<ManifestRow>, AutoCloseable {
        private final ManifestIndex.Part part;
        private ParquetReader<Group> reader;
        private Path tempCopy;
        private Group next;
        private boolean done;

        PartIterator(ManifestIndex.Part part) {
            this.part = part;
        }

        private void openIfNeeded() throws IOException {
            if (reader != null || done) return;
            Path local;
            if (store instanceof FileObjectStore f) {
                local = f.path(part.key());
            } else {
                tempCopy = Files.createTempFile("canopy-manifest-part", ".parquet");
                store.download(part.key(), tempCopy);
                local = tempCopy;
            }
            InputFile in = new LocalInputFile(local);
            reader = new ParquetReader.Builder<Group>(in) {
                @Override
                protected org.apache.parquet.hadoop.api.ReadSupport<Group> getReadSupport() {
                    return new GroupReadSupport();
                }
            }.build();
        }

        @Override
        public boolean hasNext() {
            if (next != null) return true;
            if (done) return false;
            try {
                openIfNeeded();
                next = reader.read();
            } catch (IOException e) {
                throw new ManifestException("manifest.corrupt_part", "cannot read manifest part " + store.uri(part.key()) + ": " + e.getMessage(),
                        "regenerate the manifest", e);
            }
            if (next == null) {
                close();
                return false;
            }
            return true;
        }

        @Override
        public ManifestRow next() {
            if (!hasNext()) throw new NoSuchElementException();
            Group g = next;
            next = null;
            return ManifestSchema.fromGroup(g);
        }

        @Override
        public void close() {
            done = true;
            try {
                if (reader != null) reader.close();
                if (tempCopy != null) Files.deleteIfExists(tempCopy);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                reader = null;
            }
        }
    }
}
