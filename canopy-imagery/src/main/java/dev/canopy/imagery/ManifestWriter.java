package dev.canopy.imagery;

import dev.canopy.api.BoundingBox;
import dev.canopy.storage.Keys;
import dev.canopy.storage.ObjectStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalOutputFile;

/**
 * Streams manifest rows into Parquet parts of at most {@link #rowsPerPart} rows. Each finished part is
 * written to a local temporary file, uploaded to the store and deleted, so memory and local disk
 * stay bounded whatever the row count. {@link #close()} writes {@code _index.json} last: a manifest
 * without an index is incomplete and readers refuse it.
 *
 * <p>Not thread-safe: one writer thread.
 */
public final class ManifestWriter implements AutoCloseable {
    public static final String DIR = "manifest";
    public static final String INDEX = DIR + "/_index.json";
    public static final int DEFAULT_ROWS_PER_PART = 500_000;
    /**
     * A reading task holds one row group of its part in memory and skips whole groups before its rows:
     * small groups keep both its memory and its wasted reading small (16 MB groups measured 22 MB more
     * live heap for a 300,000-row survey than for a 10,000-row one; with 4 MB groups a 1,000,000-row job's live heap was
     * x1.25 a 10,000-row job's, with 1 MB groups x1.12: {@code canopy bench infer-memory}). The sizes are Parquet's
     * buffered (mostly compressed) bytes.
     */
    public static final int DEFAULT_ROW_GROUP_BYTES = 1024 * 1024;
    /** Bytes each column buffers before compressing them into a page; a reader holds one page per column. */
    public static final int PAGE_BYTES = 128 * 1024;

    private final ObjectStore store;
    private final int rowsPerPart;
    private final Map<String, String> extraMetadata;
    private final List<String> classes;
    private final List<ManifestIndex.Part> parts = new ArrayList<>();
    private final Path tmpDir;
    private ParquetWriter<Group> current;
    private Path currentFile;
    private long currentRows;
    private long currentFirst;
    private BoundingBox currentBox;
    private long total;
    private boolean closed;
    private long rowGroupBytes = DEFAULT_ROW_GROUP_BYTES;

    public ManifestWriter(ObjectStore store, int rowsPerPart, Map<String, String> extraMetadata) {
        this(store, rowsPerPart, extraMetadata, LandCover.labels());
    }

    /**
     * A manifest whose rows' {@code label} index {@code classes} (labels from annotators, say), instead of
     * the synthetic land-cover classes.
     */
    public ManifestWriter(ObjectStore store, int rowsPerPart, Map<String, String> extraMetadata, List<String> classes) {
        if (rowsPerPart < 1) throw new IllegalArgumentException("rowsPerPart must be >= 1");
        if (classes.isEmpty()) throw new IllegalArgumentException("a manifest needs at least one class");
        this.classes = List.copyOf(classes);
        this.store = store;
        this.rowsPerPart = rowsPerPart;
        this.extraMetadata = Map.copyOf(extraMetadata);
        try {
            this.tmpDir = Files.createTempDirectory("canopy-manifest");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public ManifestWriter(ObjectStore store) {
        this(store, DEFAULT_ROWS_PER_PART, Map.of());
    }

    /** Row groups of about {@code bytes} (default {@value #DEFAULT_ROW_GROUP_BYTES}); for tests of many small groups. */
    ManifestWriter withRowGroupBytes(long bytes) {
        if (bytes < 1) throw new IllegalArgumentException("row group bytes must be >= 1");
        this.rowGroupBytes = bytes;
        return this;
    }

    public void write(ManifestRow row) {
        try {
            if (current == null) open();
            current.write(ManifestSchema.toGroup(row));
            currentRows++;
            total++;
            currentBox = currentBox == null ? row.bbox() : currentBox.union(row.bbox());
            if (currentRows == rowsPerPart) finishPart();
        } catch (IOException e) {
            throw new UncheckedIOException("writing manifest part failed", e);
        }
    }

    public long rowsWritten() {
        return total;
    }

    private void open() throws IOException {
        currentFile = tmpDir.resolve(String.format("part-%05d.parquet", parts.size()));
        Files.deleteIfExists(currentFile);
        current = ExampleParquetWriter.builder(new LocalOutputFile(currentFile))
                .withType(ManifestSchema.SCHEMA)
                .withCompressionCodec(CompressionCodecName.SNAPPY)
                .withRowGroupSize(rowGroupBytes)
                .withPageSize(PAGE_BYTES)
                // Parquet's 1 MB default dictionary page would equal a row group, and the group-size check does not count it
                .withDictionaryPageSize(PAGE_BYTES)
                .withWriteMode(ParquetFileWriter.Mode.OVERWRITE)
                .withExtraMetaData(extraMetadata)
                .build();
        currentRows = 0;
        currentFirst = total;
        currentBox = null;
    }

    private void finishPart() throws IOException {
        current.close();
        current = null;
        String key = Keys.join(DIR, currentFile.getFileName().toString());
        store.put(key, currentFile);
        Files.deleteIfExists(currentFile);
        parts.add(new ManifestIndex.Part(key, currentFirst, currentRows, currentBox.minX(), currentBox.minY(), currentBox.maxX(), currentBox.maxY()));
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            if (current != null) finishPart();
            ManifestIndex index = new ManifestIndex(ManifestIndex.FORMAT_VERSION, ManifestIndex.CRS, classes, total, parts);
            store.put(INDEX, index.toJson());
            Files.deleteIfExists(tmpDir);
        } catch (IOException e) {
            throw new UncheckedIOException("finishing manifest failed", e);
        }
    }
}
