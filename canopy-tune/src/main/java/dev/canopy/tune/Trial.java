package dev.canopy.tune;

import com.fasterxml.jackson.annotation.JsonIgnore;
import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One configuration being trained. Mutable, owned by the runner's thread; schedulers read it.
 * Serialized into the experiment state.
 */
public final class Trial {
    public enum Status { PENDING, RUNNING, PAUSED, COMPLETED, STOPPED, ERROR }

    private String id;
    private int index;
    private Map<String, Object> config;
    private Status status = Status.PENDING;
    private final List<TrialResult> results = new ArrayList<>();
    private String checkpoint;      // URI of the latest checkpoint, or null
    private int checkpointIteration;
    private int failures;
    private String error;
    private int segmentsRun;        // units of training spent (including exploited/re-run ones)

    public Trial() { }

    public Trial(String id, int index, Map<String, Object> config) {
        this.id = id;
        this.index = index;
        this.config = config;
    }

    public String getId() { return id; }
    public void setId(String id) { this.id = id; }
    public int getIndex() { return index; }
    public void setIndex(int index) { this.index = index; }
    public Map<String, Object> getConfig() { return config; }
    public void setConfig(Map<String, Object> config) { this.config = config; }
    public Status getStatus() { return status; }
    public void setStatus(Status status) { this.status = status; }
    public List<TrialResult> getResults() { return results; }
    public void setResults(List<TrialResult> r) { results.clear(); results.addAll(r); }
    public String getCheckpoint() { return checkpoint; }
    public void setCheckpoint(String checkpoint) { this.checkpoint = checkpoint; }
    public int getCheckpointIteration() { return checkpointIteration; }
    public void setCheckpointIteration(int i) { this.checkpointIteration = i; }
    public int getFailures() { return failures; }
    public void setFailures(int failures) { this.failures = failures; }
    public String getError() { return error; }
    public void setError(String error) { this.error = error; }
    public int getSegmentsRun() { return segmentsRun; }
    public void setSegmentsRun(int s) { this.segmentsRun = s; }

    @JsonIgnore
    public String id() { return id; }

    @JsonIgnore
    public Map<String, Object> config() { return config; }

    @JsonIgnore
    public int iteration() {
        return results.isEmpty() ? 0 : results.get(results.size() - 1).iteration();
    }

    @JsonIgnore
    public boolean isFinished() {
        return status == Status.COMPLETED || status == Status.STOPPED || status == Status.ERROR;
    }

    /** The metric of the last result, or null before any. */
    public Double lastMetric(String metric) {
        return results.isEmpty() ? null : results.get(results.size() - 1).metrics().get(metric);
    }

    @Override
    public String toString() {
        return id + "[" + status + " @" + iteration() + "]";
    }
}
