package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Everything needed to continue an experiment after its driver died; stored as {@code experiment.json}. */
public final class ExperimentState {
    public Map<String, Object> spec;
    public List<Trial> trials = new ArrayList<>();
    /** Every result in the order the scheduler saw it: replayed to rebuild scheduler state. */
    public List<TrialResult> events = new ArrayList<>();
    public String status = "running";
    public int stage = 1;
    /** Exploit copies made so far: their folder names never repeat, across resumes too. */
    public int exploits;
}
