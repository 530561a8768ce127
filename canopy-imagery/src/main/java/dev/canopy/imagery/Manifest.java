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
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;

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
        return rows(part, 0, Long.MAX_VALUE);
    }

    /**
     * Rows {@code skip} to {@code skip + limit - 1} of one part, read lazily. Whole row groups before
     * {@code skip} are passed over from the footer's row counts without being read or decoded, so a
     * shard late in a 500,000-row part decodes its own rows, not all the rows before it (a part in a
     * remote store is still downloaded whole to a temporary file first).
     */
    public Stream<ManifestRow> rows(ManifestIndex.Part part, long skip, long limit) {
        if (skip < 0 || limit < 0) throw new IllegalArgumentException("skip and limit must be >= 0");
        PartIterator it = new PartIterator(part, skip, limit);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(it::close);
    }

    /** Rows of the parts whose extent passes {@code partFilter}, then filtered row by row. */
    public Stream<ManifestRow> rows(Predicate<ManifestIndex.Part> partFilter, Predicate<ManifestRow> rowFilter) {
        return index.parts().stream().filter(partFilter).flatMap(this::rows).filter(rowFilter);
    }

    private final class PartIterator implements Iterator<ManifestRow>, AutoCloseable {
        private final ManifestIndex.Part part;
        private long toSkip;
        private long left;
        private ParquetFileReader reader;
        private MessageColumnIO columns;
        private RecordReader<Group> group;
        private long leftInGroup;
        private int nextGroup;
        private Path tempCopy;
        private Group next;
        private boolean done;

        PartIterator(ManifestIndex.Part part, long skip, long limit) {
            this.part = part;
            this.toSkip = skip;
            this.left = limit;
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
            reader = ParquetFileReader.open(new LocalInputFile(local));
            MessageType schema = reader.getFooter().getFileMetaData().getSchema();
            columns = new ColumnIOFactory().getColumnIO(schema);
        }

        /** The next row of the part past the skipped ones, or null at its end. */
        private Group read() throws IOException {
            while (leftInGroup == 0) {
                if (nextGroup >= reader.getRowGroups().size()) return null;
                long rows = reader.getRowGroups().get(nextGroup++).getRowCount();
                if (toSkip >= rows) { // the whole group lies before the wanted rows: not read at all
                    toSkip -= rows;
                    reader.skipNextRowGroup();
                    continue;
                }
                PageReadStore pages = reader.readNextRowGroup();
                group = columns.getRecordReader(pages, new GroupRecordConverter(columns.getType()));
                leftInGroup = pages.getRowCount();
            }
            leftInGroup--;
            Group g = group.read();
            if (g == null) throw new IOException("row group " + (nextGroup - 1) + " ended before the row count its footer gives");
            return g;
        }

        @Override
        public boolean hasNext() {
            if (next != null) return true;
            if (done) return false;
            if (left == 0) { // nothing wanted: not even opened (or downloaded)
                close();
                return false;
            }
            try {
                openIfNeeded();
                while (left > 0 && next == null) {
                    Group g = read();
                    if (g == null) break;
                    if (toSkip > 0) {
                        toSkip--; // within the first group read: assembled, then dropped
                        continue;
                    }
                    next = g;
                    left--;
                }
            } catch (StorageException | UncheckedIOException e) {
                closeAfter(e);
                throw e; // the store failed (throttled, gone, disk): not the manifest's fault
            } catch (IOException | RuntimeException e) {
                ManifestException corrupt = new ManifestException("manifest.corrupt_part", "cannot read manifest part " + store.uri(part.key())
                        + ": " + e.getMessage(), "regenerate the manifest", e);
                closeAfter(corrupt);
                throw corrupt;
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

        /** Closes after {@code failure}, attaching any error of closing to it instead of hiding it. */
        private void closeAfter(Exception failure) {
            try {
                close();
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }

        @Override
        public void close() {
            done = true;
            try {
                if (reader != null) reader.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                reader = null;
                group = null;
                try {
                    if (tempCopy != null) Files.deleteIfExists(tempCopy); // even when closing the reader failed
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } finally {
                    tempCopy = null;
                }
            }
        }
    }
}
