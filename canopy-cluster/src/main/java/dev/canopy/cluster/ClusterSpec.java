package dev.canopy.cluster;

import dev.canopy.api.CanopyException;
import java.util.regex.Pattern;

/**
 * What a cluster should be: a name (also its folder and its handle in every command), the number of
 * workers and each worker's cores and memory (Spark's notation: {@code 512m}, {@code 2g}).
 */
public record ClusterSpec(String name, int workers, int workerCores, String workerMemory, String bundle) {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{0,39}");
    private static final Pattern MEMORY = Pattern.compile("[1-9][0-9]{0,6}[mg]"); // at most 7 digits: a size no machine has is a typo, not an overflow

    public ClusterSpec {
        checkName(name);
        if (workers < 0 || workers > 64) throw new CanopyException("cluster.bad_workers", "workers must be 0-64, not " + workers, "pass --workers 2, say");
        if (workerCores < 1 || workerCores > 256) {
            throw new CanopyException("cluster.bad_cores", "worker cores must be 1-256, not " + workerCores, "pass --worker-cores 1, say");
        }
        if (workerMemory == null || !MEMORY.matcher(workerMemory).matches()) {
            throw new CanopyException("cluster.bad_memory", "worker memory '" + workerMemory + "' is not a size Spark understands",
                    "write it as a number and m or g: 1g, 1536m, 4g");
        }
        if (megabytes(workerMemory) < MIN_WORKER_MB) {
            // a worker smaller than one executor (Spark's default 1g) accepts no executor: jobs would wait forever
            throw new CanopyException("cluster.small_workers", "worker memory " + workerMemory + " is less than one executor's 1g",
                    "give each worker at least 1g: --worker-memory 1g");
        }
    }

    /** Refuses a name that is not 1-40 lower-case letters, digits and dashes starting with a letter: it becomes a folder name. */
    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new CanopyException("cluster.bad_name", "cluster name '" + name + "' is not allowed",
                    "use 1-40 lower-case letters, digits and dashes, starting with a letter (e.g. survey-2026)");
        }
        return name;
    }

    /** Spark's default executor memory: the least a worker must offer. */
    public static final long MIN_WORKER_MB = 1024;

    static long megabytes(String size) {
        long n = Long.parseLong(size.substring(0, size.length() - 1));
        return size.endsWith("g") ? n * 1024 : n;
    }

    /** A cluster that runs the launcher's own class path (no bundle). */
    public ClusterSpec(String name, int workers, int workerCores, String workerMemory) {
        this(name, workers, workerCores, workerMemory, null);
    }

    public ClusterSpec withWorkers(int n) {
        return new ClusterSpec(name, n, workerCores, workerMemory, bundle);
    }

    /** The same cluster started from a bundle (its digest): every process runs exactly the bundle's jars. */
    public ClusterSpec withBundle(String digest) {
        return new ClusterSpec(name, workers, workerCores, workerMemory, digest);
    }
}
