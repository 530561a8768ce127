package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;
import java.io.Serializable;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Runs trial segments (one unit of training each) on slots: threads of this JVM or Spark jobs.
 * A segment restores the trial from {@code restoreFrom} (null: from scratch), trains one step and
 * saves a checkpoint to {@code saveTo}, so any segment can run anywhere and a lost one is simply
 * run again. Futures complete on executor threads.
 */
public interface TrialExecutor extends AutoCloseable {
    /** Segments that may run at once. */
    int slots();

    CompletableFuture<TrialResult> runSegment(Segment segment);

    /** Something to show users ("local 2 CPU slots", "spark local[2]"). */
    String describe();

    @Override
    void close();

    record Segment(String trialId, Map<String, Object> config, String restoreFrom, String saveTo) implements Serializable { }

    /** Resources of one slot, so GPU slots can be asked for by name when there are GPUs. */
    record Resources(int cpus, int gpus) implements Serializable {
        public Resources {
            if (cpus < 0 || gpus < 0 || cpus + gpus == 0) throw new TuneException("a trial needs at least one CPU or GPU", "e.g. --cpus-per-trial 1");
        }
    }
}
