package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.api.Json;
import dev.canopy.api.train.Trainable;
import dev.canopy.storage.Keys;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.StorageException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs trials concurrently on a {@link TrialExecutor} under a {@link TrialScheduler}, asking a
 * {@link Searcher} for new configurations while slots are free. All decisions happen on the calling
 * thread; the state ({@code experiment.json} plus one checkpoint folder per trial) is written after
 * every event, so {@link #resume} continues after the driver is killed without redoing any finished
 * segment. A failed segment is retried from the trial's last checkpoint up to {@code maxFailures} times.
 */
public final class Experiment implements TrialScheduler.TrialControl {
    public static final String STATE = "experiment.json";
    private static final Logger LOG = LoggerFactory.getLogger(Experiment.class);

    /** Receives progress; called on the experiment's thread. */
    public interface Listener {
        void onEvent(Experiment e, Trial trial, Event what);
    }

    /** What happened to a trial. */
    public enum Event {
        ADDED, CONTINUE, PAUSE, STOP, COMPLETED, ERROR, RETRY, EXPLOIT;

        /** The trial ended (stopped early, completed, or failed for good). */
        public boolean isEnd() {
            return this == STOP || this == COMPLETED || this == ERROR;
        }
    }

    private final ObjectStore store;
    private final Searcher searcher;
    private final TrialScheduler scheduler;
    private final TrialExecutor executor;
    private final int samples;
    private final int maxT;
    private final int maxFailures;
    private final String metric;
    private final ExperimentState state;
    private final Listener listener;
    private final LinkedBlockingQueue<Completion> done = new LinkedBlockingQueue<>();
    private final Map<String, Trial> running = new HashMap<>();
    private boolean replaying;
    /** Checkpoints no state refers to any more; deleted only after the state that forgot them is saved. */
    private final List<String> obsolete = new ArrayList<>();

    private record Completion(Trial trial, String checkpoint, TrialResult result, Throwable error) { }

    private Experiment(ObjectStore store, ExperimentState state, Searcher searcher, TrialScheduler scheduler, TrialExecutor executor,
                       int samples, int maxT, int maxFailures, String metric, Listener listener) {
        this.store = store;
        this.state = state;
        this.searcher = searcher;
        this.scheduler = scheduler;
        this.executor = executor;
        this.samples = samples;
        this.maxT = maxT;
        this.maxFailures = maxFailures;
        this.metric = metric;
        this.listener = listener == null ? (e, t, w) -> { } : listener;
        scheduler.attach(this);
    }

    /** A new experiment in an empty folder. */
    public static Experiment create(ObjectStore store, Map<String, Object> spec, Searcher searcher, TrialScheduler scheduler, TrialExecutor executor,
                                    int samples, int maxT, int maxFailures, String metric, Listener listener) {
        if (store.exists(STATE)) {
            throw new TuneException("tune.exists", "an experiment already exists at " + store.root(), "resume it with --resume " + store.root() + " or choose another folder");
        }
        ExperimentState s = new ExperimentState();
        s.spec = spec;
        Experiment e = new Experiment(store, s, searcher, scheduler, executor, samples, maxT, maxFailures, metric, listener);
        e.save();
        return e;
    }

    /** Continues an experiment: running trials restart from their last checkpoint, the scheduler is rebuilt by replay. */
    public static Experiment resume(ObjectStore store, Searcher searcher, TrialScheduler scheduler, TrialExecutor executor, int samples, int maxT,
                                    int maxFailures, String metric, Listener listener) {
        ExperimentState s = load(store);
        Experiment e = new Experiment(store, s, searcher, scheduler, executor, samples, maxT, maxFailures, metric, listener);
        e.replaying = true;
        try {
            Map<String, Trial> byId = s.trials.stream().collect(Collectors.toMap(Trial::id, t -> t));
            s.trials.stream().sorted(Comparator.comparingInt(Trial::getIndex)).forEach(scheduler::onTrialAdd);
            for (TrialResult r : s.events) {
                Trial t = byId.get(r.trialId());
                if (t != null) scheduler.onTrialResult(t, r);
            }
            for (Trial t : s.trials) {
                if (t.getStatus() == Trial.Status.COMPLETED) scheduler.onTrialComplete(t);
                if (t.getStatus() == Trial.Status.ERROR) scheduler.onTrialError(t);
                if (t.getStatus() == Trial.Status.RUNNING) t.setStatus(Trial.Status.PENDING); // its segment died with the driver
            }
        } finally {
            e.replaying = false;
        }
        s.status = "running";
        e.save();
        return e;
    }

    public static ExperimentState load(ObjectStore store) {
        try {
            return Json.read(store.get(STATE), ExperimentState.class, "experiment state");
        } catch (StorageException.NotFound e) {
            throw new TuneException("tune.no_experiment", "no experiment at " + store.root(), "give the folder printed when the experiment started");
        }
    }

    public ExperimentState state() {
        return state;
    }

    public List<Trial> trials() {
        return state.trials;
    }

    /** Runs until every trial finished. */
    public ExperimentState run() throws InterruptedException {
        while (true) {
            launchWhileSlotsFree();
            if (running.isEmpty()) {
                List<Trial> paused = byStatus(Trial.Status.PAUSED);
                if (paused.isEmpty()) break;
                // nothing can arrive to release a rung: let the paused trials go on rather than wait forever
                for (Trial t : paused) t.setStatus(Trial.Status.PENDING);
                continue;
            }
            handle(done.take());
            save();
            obsolete.forEach(this::deleteCheckpoint);
            obsolete.clear();
        }
        state.status = "finished";
        save();
        return state;
    }

    private void launchWhileSlotsFree() {
        while (running.size() < executor.slots()) {
            Trial next = scheduler.choosePausedToResume(byStatus(Trial.Status.PAUSED));
            if (next == null) next = byStatus(Trial.Status.PENDING).stream().findFirst().orElse(null);
            if (next == null) next = newTrial();
            if (next == null) return;
            launch(next);
        }
    }

    private Trial newTrial() {
        int index = state.trials.size();
        int limit = searcher.capacity() < 0 ? samples : Math.min(samples, searcher.capacity());
        if (index >= limit) return null;
        Map<String, Object> config = searcher.suggest(index, searcher.seesRunningTrials() ? List.copyOf(state.trials)
                : state.trials.stream().filter(Trial::isFinished).toList());
        if (config == null) return null;
        Trial t = new Trial(String.format("trial-%03d", index), index, config);
        state.trials.add(t);
        scheduler.onTrialAdd(t);
        listener.onEvent(this, t, Event.ADDED);
        return t;
    }

    private void launch(Trial t) {
        t.setStatus(Trial.Status.RUNNING);
        running.put(t.id(), t);
        int next = t.getCheckpointIteration() + 1;
        String save = store.uri(Keys.join("trials", t.id(), String.format("checkpoint-%04d", next))).toString();
        TrialExecutor.Segment seg = new TrialExecutor.Segment(t.id(), t.config(), t.getCheckpoint(), save);
        executor.runSegment(seg).whenComplete((r, e) -> done.add(new Completion(t, save, r, e)));
    }

    private void handle(Completion c) {
        Trial t = c.trial();
        running.remove(t.id());
        if (t.getStatus() == Trial.Status.STOPPED) {
            // stopped through the control while this segment ran: it ended already, once; its work is spent but not kept
            if (c.error() == null) {
                t.setSegmentsRun(t.getSegmentsRun() + 1);
                obsolete.add(c.checkpoint());
            }
            return;
        }
        if (c.error() != null) {
            Throwable cause = c.error() instanceof java.util.concurrent.CompletionException && c.error().getCause() != null ? c.error().getCause() : c.error();
            t.setFailures(t.getFailures() + 1);
            t.setError(cause.getMessage());
            LOG.warn("trial {} failed ({} of {} allowed): {}", t.id(), t.getFailures(), maxFailures, cause.toString());
            if (cause instanceof dev.canopy.api.train.TrainingException) {
                t.setFailures(maxFailures + 1); // bad configuration: retrying cannot help
            }
            if (t.getFailures() > maxFailures) {
                t.setStatus(Trial.Status.ERROR);
                scheduler.onTrialError(t);
                listener.onEvent(this, t, Event.ERROR);
            } else {
                t.setStatus(Trial.Status.PENDING);
                listener.onEvent(this, t, Event.RETRY);
            }
            return;
        }
        TrialResult r = c.result();
        String previous = t.getCheckpoint();
        t.setCheckpoint(c.checkpoint());
        t.setCheckpointIteration(r.iteration());
        t.getResults().add(r);
        t.setSegmentsRun(t.getSegmentsRun() + 1);
        state.events.add(r);
        if (previous != null && !previous.equals(t.getCheckpoint())) obsolete.add(previous);
        Decision d = scheduler.onTrialResult(t, r);
        if (t.getStatus() == Trial.Status.STOPPED) return; // stopped by the scheduler through control while reporting
        if (r.iteration() >= maxT && d != Decision.STOP) {
            t.setStatus(Trial.Status.COMPLETED);
            scheduler.onTrialComplete(t);
            listener.onEvent(this, t, Event.COMPLETED);
            return;
        }
        switch (d) {
            case CONTINUE -> t.setStatus(Trial.Status.PENDING);
            case PAUSE -> t.setStatus(Trial.Status.PAUSED);
            case STOP -> t.setStatus(Trial.Status.STOPPED);
        }
        listener.onEvent(this, t, Event.valueOf(d.name()));
    }

    @Override
    public boolean exploit(Trial target, Trial source, Map<String, Object> newConfig) {
        if (source.getCheckpoint() == null) return false;
        if (replaying) return true; // the copy happened in the first run; its result is in the saved state
        String from = source.getCheckpoint();
        String prefix = Keys.join("trials", target.id(), String.format("exploit-%03d-from-%s", ++state.exploits, source.id()));
        String fromKey = dev.canopy.storage.ObjectStores.relativeKey(store.root(), java.net.URI.create(from));
        if (fromKey == null) return false;
        List<String> keys;
        try (var s = store.listAll(fromKey + "/")) {
            keys = s.map(ObjectInfo::key).toList();
        }
        // the marker last, as a checkpoint is written (Trainable's checkpoint contract)
        keys.stream().sorted(Comparator.comparing((String k) -> k.endsWith("/" + Trainable.CHECKPOINT_MARKER))).forEach(k ->
                store.put(prefix + k.substring(fromKey.length()), store.get(k)));
        String old = target.getCheckpoint();
        target.setCheckpoint(store.uri(prefix).toString());
        target.setCheckpointIteration(source.getCheckpointIteration());
        target.setConfig(newConfig);
        if (old != null) obsolete.add(old);
        listener.onEvent(this, target, Event.EXPLOIT);
        return true;
    }

    @Override
    public void stop(Trial trial) {
        if (replaying) return;
        trial.setStatus(Trial.Status.STOPPED);
        listener.onEvent(this, trial, Event.STOP);
    }

    private void deleteCheckpoint(String uri) {
        // a folder a trial now uses (a retry, an exploit copy under a reused name) is never obsolete
        if (state.trials.stream().anyMatch(t -> uri.equals(t.getCheckpoint()))) return;
        String key = dev.canopy.storage.ObjectStores.relativeKey(store.root(), java.net.URI.create(uri));
        if (key == null) return;
        List<String> keys;
        try (var s = store.listAll(key + "/")) {
            keys = s.map(ObjectInfo::key).toList();
        }
        keys.forEach(store::delete);
    }

    private List<Trial> byStatus(Trial.Status s) {
        List<Trial> out = new ArrayList<>();
        for (Trial t : state.trials) if (t.getStatus() == s) out.add(t);
        return out;
    }

    private void save() {
        store.put(STATE, Json.write(state));
    }

    /** The best trial by its last reported metric. */
    public static Optional<Trial> best(List<Trial> trials, Objective objective) {
        return trials.stream().filter(t -> t.lastMetric(objective.metric()) != null && !t.lastMetric(objective.metric()).isNaN())
                .max(Comparator.comparingDouble(t -> objective.maximize() ? t.lastMetric(objective.metric()) : -t.lastMetric(objective.metric())));
    }

    /** Units of training spent versus running every trial to max_t. */
    public record Cost(long used, long full, double savedPercent) { }

    public static Cost cost(List<Trial> trials, int maxT) {
        long used = trials.stream().mapToLong(Trial::getSegmentsRun).sum();
        long full = (long) trials.size() * maxT;
        return new Cost(used, full, full == 0 ? 0 : 100.0 * (1 - used / (double) full));
    }

    public String metric() {
        return metric;
    }
}
