package dev.canopy.tune;

import dev.canopy.api.train.Trainable;
import dev.canopy.api.tune.TrialResult;
import java.net.URI;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs one segment where it is called (an executor thread, a Spark task). Keeps the trainables of
 * recent segments alive so a trial that continues on the same JVM skips set-up and restore; a
 * trainable is reused only if it is exactly at the checkpoint the segment starts from.
 */
public final class SegmentWorker {
    private record Live(String checkpoint, Map<String, Object> config, Trainable trainable) { }

    private final Map<String, Live> live = new LinkedHashMap<>(16, 0.75f, true);
    private final int capacity;

    public SegmentWorker(int capacity) {
        this.capacity = capacity;
    }

    public TrialResult run(TrialExecutor.Segment s, TrainableFactory factory) {
        Trainable t = take(s);
        try {
            if (t == null) {
                t = factory.create();
                t.setup(factory.merge(s.config()));
                if (s.restoreFrom() != null) t.restore(URI.create(s.restoreFrom()));
            }
            Trainable.StepResult r = t.step();
            t.save(URI.create(s.saveTo()));
            keep(s, t);
            return new TrialResult(s.trialId(), r.iteration(), r.metrics());
        } catch (RuntimeException e) {
            if (t != null) t.close();
            throw e;
        }
    }

    /**
     * The segment as one rank of a data-parallel trial: a fresh trainable joins {@code ring}, restores, steps in
     * lockstep with the other ranks, and rank 0 alone saves and answers (the others return null). No trainable is
     * kept: the next segment's ranks may land elsewhere and must start from the same checkpoint.
     */
    public TrialResult run(TrialExecutor.Segment s, TrainableFactory factory, dev.canopy.api.train.AllReduce ring) {
        if (ring.size() == 1) return run(s, factory);
        try (Trainable t = factory.create()) {
            t.setup(factory.merge(s.config()));
            t.dataParallel(ring);
            if (s.restoreFrom() != null) t.restore(URI.create(s.restoreFrom()));
            Trainable.StepResult r = t.step();
            if (ring.rank() != 0) return null;
            t.save(URI.create(s.saveTo()));
            return new TrialResult(s.trialId(), r.iteration(), r.metrics());
        }
    }

    private synchronized Trainable take(TrialExecutor.Segment s) {
        Live l = live.remove(s.trialId());
        if (l == null) return null;
        if (s.restoreFrom() != null && s.restoreFrom().equals(l.checkpoint()) && s.config().equals(l.config())) return l.trainable();
        l.trainable().close();
        return null;
    }

    private synchronized void keep(TrialExecutor.Segment s, Trainable t) {
        live.put(s.trialId(), new Live(s.saveTo(), s.config(), t));
        for (Iterator<Map.Entry<String, Live>> it = live.entrySet().iterator(); live.size() > capacity && it.hasNext(); ) {
            it.next().getValue().trainable().close();
            it.remove();
        }
    }

    public synchronized void close() {
        live.values().forEach(l -> l.trainable().close());
        live.clear();
    }
}
