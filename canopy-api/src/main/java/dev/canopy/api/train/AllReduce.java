package dev.canopy.api.train;

/**
 * Sums arrays across the ranks of a data-parallel training run, so that every rank ends each step with the same
 * gradients. Every rank calls {@link #sum} with an array of the same length, in the same order of calls; each call
 * returns once the array holds the sum over all ranks, the same bits on every rank.
 *
 * <p>Threads: one thread per rank drives it (the training loop). {@link #close} releases its sockets; a rank that
 * fails or closes makes the others' pending and later calls fail (the barrier stage then fails as a whole and Spark
 * runs it again).
 */
public interface AllReduce extends AutoCloseable {
    /** Replaces {@code data} with its element-wise sum over all ranks. */
    void sum(float[] data);

    /** This rank's number, 0 to {@link #size()} - 1. */
    int rank();

    /** How many ranks take part. */
    int size();

    /** Bytes this rank has sent so far (payload only): what the network carries per worker. */
    long bytesSent();

    /** False once closed (for instance by a cancelled task's watchdog): a rank must then write nothing more. */
    default boolean active() {
        return true;
    }

    @Override
    void close();

    /** The single-rank case: nothing to combine. */
    static AllReduce single() {
        return new AllReduce() {
            @Override
            public void sum(float[] data) {
            }

            @Override
            public int rank() {
                return 0;
            }

            @Override
            public int size() {
                return 1;
            }

            @Override
            public long bytesSent() {
                return 0;
            }

            @Override
            public void close() {
            }
        };
    }
}
