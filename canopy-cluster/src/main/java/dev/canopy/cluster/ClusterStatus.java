package dev.canopy.cluster;

import java.time.Duration;
import java.util.List;

/**
 * A cluster as its master reports it now. {@code state} is {@code RUNNING} (the master answers),
 * {@code STOPPED} (no process left) or {@code BROKEN} (processes alive but the master does not answer).
 */
public record ClusterStatus(String name, String state, String masterUrl, String uiUrl, int workersAlive, int workersWanted, int cores,
                            int coresUsed, long memoryMb, long memoryUsedMb, List<String> runningApplications, Duration uptime, String logs) {
    public static final String RUNNING = "RUNNING";
    public static final String STOPPED = "STOPPED";
    public static final String BROKEN = "BROKEN";
}
