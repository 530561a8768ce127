package dev.canopy.batch;

import dev.canopy.api.Json;
import dev.canopy.storage.ObjectStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Writes one shard of results and commits it, as Spark's {@code DataWriter} does for a partition.
 *
 * <p>Protocol: rows go to a local temporary GeoParquet file ({@link #write}); {@link #commit}
 * uploads it under the shard's deterministic name ({@link ShardSpec#shardKey()}) with one atomic
 * PUT (S3) or rename (file), and only then writes the marker {@link ShardSpec#markerKey()} holding the
 * {@link ShardReport}. Readers trust a shard only when its marker exists; a resumed job skips such
 * shards. {@link #abort} (or {@link #close} without commit) deletes the local file and writes
 * nothing to the store.
 *
 * <p>Threads and retries: one writer is used by one task thread. A retried or speculative attempt of
 * the same shard makes a new writer and rewrites the same names with complete objects, so a reader
 * never sees a partial file and no row appears twice, whichever attempt commits last. After a
 * failed commit the attempt must not be reused; the next attempt starts over. With speculative
 * execution two attempts may interleave (A's file, B's file, B's marker, A's marker): the file then
 * holds B's rows and the marker A's counts. Both attempts read the same rows, so the row set is the
 * same; only counts that depend on transient failures (retries, error rows) can differ.
 */
public final class ShardWriter implements AutoCloseable {
    private final ShardSpec spec;
    private final ObjectStore out;
    private final Path local;
    private final PredictionShardWriter parquet;
    private boolean finished;

    public ShardWriter(ShardSpec spec, ObjectStore out, List<String> classes, Map<String, String> metadata) {
        this.spec = spec;
        this.out = out;
        try {
            this.local = Files.createTempFile("canopy-shard-" + spec.index() + "-", ".parquet");
            this.parquet = new PredictionShardWriter(local, classes, metadata);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start shard " + spec.index(), e);
        }
    }

    /** The local file rows go to before the commit (deleted by commit and abort). */
    Path localFile() {
        return local;
    }

    public void write(InferenceResult r) {
        if (finished) throw new IllegalStateException("shard " + spec.index() + " is already committed or aborted");
        parquet.write(r);
    }

    /** Uploads the shard, then its marker (the report made from the file's size); returns the report. */
    public ShardReport commit(Function<Long, ShardReport> report) {
        if (finished) throw new IllegalStateException("shard " + spec.index() + " is already committed or aborted");
        finished = true;
        try {
            parquet.close();
            long bytes = Files.size(local);
            out.put(spec.shardKey(), local);
            ShardReport r = report.apply(bytes);
            out.put(spec.markerKey(), Json.write(r));
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException("commit of shard " + spec.index() + " failed", e);
        } finally {
            deleteLocal();
        }
    }

    /** Drops what was written; nothing reaches the store. */
    public void abort() {
        if (finished) return;
        finished = true;
        try {
            parquet.close();
        } catch (RuntimeException ignored) {
            // the local file is deleted anyway
        }
        deleteLocal();
    }

    private void deleteLocal() {
        try {
            Files.deleteIfExists(local);
        } catch (IOException ignored) {
            // a temp file left behind is harmless
        }
    }

    @Override
    public void close() {
        abort();
    }
}
