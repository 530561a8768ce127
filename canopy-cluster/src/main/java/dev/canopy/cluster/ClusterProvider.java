package dev.canopy.cluster;

import java.util.List;

/**
 * Creates, inspects, resizes and removes Spark standalone clusters. One provider per place clusters
 * run: this host ({@link LocalClusterProvider}); SSH hosts or Kubernetes fit the same calls
 * (docs/clusters.md says how).
 *
 * <p>Contract, for every implementation:
 * <ul>
 *   <li>Calls are synchronous and may block for as long as processes take to start or stop; callers
 *       run them on their own thread. Two calls on the same cluster name are serialised by the
 *       provider; calls on different names may run at once.</li>
 *   <li>{@link #create} returns once the master accepts connections and every worker is registered with it
 *       ({@link #status} shows how many are alive). It fails, leaving nothing running, if the name is taken.</li>
 *   <li>{@link #stop} leaves no process of the cluster behind and checks it; the cluster's record and
 *       logs stay, so {@link #status} and a later {@link #start} work. {@link #delete} stops, then
 *       removes the record and logs.</li>
 *   <li>Nothing listens beyond 127.0.0.1 unless the provider is told so; a cluster that does requires Spark's
 *       authentication with a secret of its own, which {@link #driverConf} hands to the drivers that run on it.</li>
 * </ul>
 */
public interface ClusterProvider {
    /** Starts a new cluster; fails if one of that name exists. */
    ClusterStatus create(ClusterSpec spec);

    /** Starts a stopped cluster again with its recorded spec. */
    ClusterStatus start(String name);

    /** The cluster's current state; fails for an unknown name. */
    ClusterStatus status(String name);

    /** Every known cluster, running or not. */
    List<ClusterStatus> list();

    /** Adds or removes workers while the cluster runs; running applications keep their executors on the workers that stay. */
    ClusterStatus scale(String name, int workers);

    /** Stops every process of the cluster and checks that none is left. */
    ClusterStatus stop(String name);

    /** Stops the cluster and removes everything recorded about it. */
    void delete(String name);

    /**
     * Copies the logs the cluster's workers kept for one application (each executor's stdout and stderr) into
     * {@code into}, one folder per worker, for post-mortems next to the job's own log; answers how many files came.
     * Call it once the application has ended (its executors have exited, their logs are whole). A provider whose
     * workers are elsewhere fetches them (SSH: scp from each host's work folder; Kubernetes: the executor pods' logs).
     */
    int collectLogs(String name, String applicationId, java.nio.file.Path into);

    /**
     * The Spark settings a driver needs to run on the cluster, beyond its master URL: for a cluster that listens
     * beyond loopback, {@code spark.authenticate} and the cluster's secret. Give them to the driver's SparkConf in its
     * own memory, never on a command line (other users of the host can read those).
     */
    default java.util.Map<String, String> driverConf(String name) {
        return java.util.Map.of();
    }
}
