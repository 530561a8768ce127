package dev.canopy.batch;

import java.io.Serializable;
import java.util.concurrent.atomic.LongAdder;

/** Counters of a pipeline run, summed across threads; {@link #snapshot()} is what tasks report. */
public final class PipelineStats {
    final LongAdder rows = new LongAdder();
    final LongAdder ok = new LongAdder();
    final LongAdder errors = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder fetchNanos = new LongAdder();
    final LongAdder decodeWaitNanos = new LongAdder();
    final LongAdder decodeNanos = new LongAdder();
    final LongAdder modelWaitNanos = new LongAdder();
    final LongAdder retries = new LongAdder();
    private double[] probabilitySums = new double[0];
    private long[] topClassCounts = new long[0];

    /** Counts one written row (for shard writers outside the pipeline, e.g. benchmark baselines). */
    public void recordRow(boolean ok) {
        rows.increment();
        (ok ? this.ok : errors).increment();
    }

    /** Counts bytes read from the store. */
    public void recordBytes(long n) {
        bytesRead.add(n);
    }

    /** Adds one successful tile's probabilities (called by the consuming thread only). */
    void addProbabilities(float[] p, int top) {
        if (probabilitySums.length < p.length) {
            probabilitySums = java.util.Arrays.copyOf(probabilitySums, p.length);
            topClassCounts = java.util.Arrays.copyOf(topClassCounts, p.length);
        }
        for (int i = 0; i < p.length; i++) probabilitySums[i] += p[i];
        topClassCounts[top]++;
    }

    /**
     * Sums over the tiles of a run. Per tile: {@code fetchNanos} from request to bytes arriving,
     * {@code decodeWaitNanos} waiting for a decode thread, {@code decodeNanos} decoding (CPU),
     * {@code modelWaitNanos} from submit to the model's answer (batching queue plus the model).
     */
    public record Snapshot(long rows, long ok, long errors, long bytesRead, long fetchNanos, long decodeWaitNanos, long decodeNanos,
                           long modelWaitNanos, long retries, double[] probabilitySums, long[] topClassCounts) implements Serializable {
        public Snapshot plus(Snapshot o) {
            return new Snapshot(rows + o.rows, ok + o.ok, errors + o.errors, bytesRead + o.bytesRead, fetchNanos + o.fetchNanos,
                    decodeWaitNanos + o.decodeWaitNanos, decodeNanos + o.decodeNanos, modelWaitNanos + o.modelWaitNanos, retries + o.retries,
                    add(probabilitySums, o.probabilitySums), add(topClassCounts, o.topClassCounts));
        }

        private static double[] add(double[] a, double[] b) {
            double[] r = java.util.Arrays.copyOf(a, Math.max(a.length, b.length));
            for (int i = 0; i < b.length; i++) r[i] += b[i];
            return r;
        }

        private static long[] add(long[] a, long[] b) {
            long[] r = java.util.Arrays.copyOf(a, Math.max(a.length, b.length));
            for (int i = 0; i < b.length; i++) r[i] += b[i];
            return r;
        }

        public static Snapshot zero() {
            return new Snapshot(0, 0, 0, 0, 0, 0, 0, 0, 0, new double[0], new long[0]);
        }
    }

    public Snapshot snapshot() {
        return new Snapshot(rows.sum(), ok.sum(), errors.sum(), bytesRead.sum(), fetchNanos.sum(), decodeWaitNanos.sum(), decodeNanos.sum(),
                modelWaitNanos.sum(),
                retries.sum(), probabilitySums.clone(), topClassCounts.clone());
    }
}
