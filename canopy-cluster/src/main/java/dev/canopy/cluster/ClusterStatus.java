package dev.canopy.cluster;

import java.time.Duration;
import java.util.List;

/**
 * A cluster as its master reports it now. {@code state} is {@code RUNNING} (the master answers),
 * {@code STOPPED} (no process left) or {@code BROKEN} (processes alive but the master does not answer). {@code bundle}
 * is the digest of the bundle its processes run, or null when they run the launcher's own class path.
 */
public record ClusterStatus(String name, String state, String masterUrl, String uiUrl, int workersAlive, int workersWanted, int cores,
                            int coresUsed, long memoryMb, long memoryUsedMb, List<String> runningApplications, Duration uptime, String logs,
                            String bundle) {
    public static final String RUNNING = "RUNNING";
    public static final String STOPPED = "STOPPED";
    public static final String BROKEN = "BROKEN";
}
