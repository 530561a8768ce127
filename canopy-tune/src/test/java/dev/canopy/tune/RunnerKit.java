package dev.canopy.tune;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.ListPage;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/** Deterministic plumbing for runner tests: segments run on the caller's thread and every call is recorded. */
final class RunnerKit {
    static final TrainableFactory PROBE = new TrainableFactory(ProbeTrainable.class.getName(), Map.of());

    private RunnerKit() { }

    static Experiment.Listener into(List<String> events) {
        return (e, t, what) -> events.add(t.id() + " " + what);
    }

    static List<String> keys(ObjectStore store, String prefix) {
        try (Stream<ObjectInfo> s = store.listAll(prefix)) {
            return s.map(ObjectInfo::key).toList();
        }
    }

    /** Runs a segment inside runSegment; a failure reaches the runner wrapped in a CompletionException, as from supplyAsync. */
    static final class InlineExecutor implements TrialExecutor {
        private final int slots;
        private final SegmentWorker worker;

        InlineExecutor(int slots) {
            this.slots = slots;
            this.worker = new SegmentWorker(slots + 2);
        }

        @Override
        public int slots() {
            return slots;
        }

        @Override
        public CompletableFuture<TrialResult> runSegment(Segment segment) {
            return CompletableFuture.completedFuture(segment).thenApply(s -> worker.run(s, PROBE));
        }

        @Override
        public String describe() {
            return "inline, " + slots + " slot(s)";
        }

        @Override
        public void close() {
            worker.close();
        }
    }

    /** Records what a scheduler is told and what it answers. */
    static final class Recording implements TrialScheduler {
        final TrialScheduler inner;
        final List<String> log = new ArrayList<>();

        Recording(TrialScheduler inner) {
            this.inner = inner;
        }

        List<String> results() {
            return log.stream().filter(l -> l.startsWith("result ")).toList();
        }

        @Override
        public void attach(TrialControl control) {
            log.add("attach");
            inner.attach(control);
        }

        @Override
        public void onTrialAdd(Trial trial) {
            log.add("add " + trial.id());
            inner.onTrialAdd(trial);
        }

        @Override
        public Decision onTrialResult(Trial trial, TrialResult result) {
            Decision d = inner.onTrialResult(trial, result);
            log.add("result " + trial.id() + "@" + result.iteration() + " " + d);
            return d;
        }

        @Override
        public void onTrialComplete(Trial trial) {
            log.add("complete " + trial.id());
            inner.onTrialComplete(trial);
        }

        @Override
        public void onTrialError(Trial trial) {
            log.add("error " + trial.id());
            inner.onTrialError(trial);
        }

        @Override
        public Trial choosePausedToResume(List<Trial> paused) {
            return inner.choosePausedToResume(paused);
        }

        @Override
        public String describePlan(int samples) {
            return inner.describePlan(samples);
        }
    }

    interface Rule {
        Decision decide(Trial trial, TrialResult result, Scripted scheduler);
    }

    /** Decides by a rule that may use the control and every trial added so far. */
    static final class Scripted implements TrialScheduler {
        final Rule rule;
        final Map<String, Trial> trials = new LinkedHashMap<>();
        TrialControl control;

        Scripted(Rule rule) {
            this.rule = rule;
        }

        @Override
        public void attach(TrialControl control) {
            this.control = control;
        }

        @Override
        public void onTrialAdd(Trial trial) {
            trials.put(trial.id(), trial);
        }

        @Override
        public Decision onTrialResult(Trial trial, TrialResult result) {
            return rule.decide(trial, result, this);
        }

        @Override
        public String describePlan(int samples) {
            return "scripted";
        }
    }

    /** Passes everything on; records puts, deletes and listings, and the state on disk at each delete. */
    static final class RecordingStore implements ObjectStore {
        final ObjectStore store;
        final List<String> ops = new ArrayList<>();
        final Map<String, byte[]> stateAtDelete = new LinkedHashMap<>();

        RecordingStore(ObjectStore store) {
            this.store = store;
        }

        @Override public URI root() { return store.root(); }
        @Override public byte[] get(String key) { return store.get(key); }
        @Override public CompletableFuture<byte[]> getAsync(String key) { return store.getAsync(key); }
        @Override public CompletableFuture<byte[]> getAsync(String key, long maxBytes) { return store.getAsync(key, maxBytes); }
        @Override public InputStream openStream(String key, long offset, long length) { return store.openStream(key, offset, length); }
        @Override public Optional<ObjectInfo> stat(String key) { return store.stat(key); }

        @Override
        public void put(String key, byte[] data) {
            ops.add("put " + key);
            store.put(key, data);
        }

        @Override
        public void put(String key, Path file) {
            ops.add("put " + key);
            store.put(key, file);
        }

        @Override
        public boolean putIfAbsent(String key, byte[] data) {
            ops.add("put " + key);
            return store.putIfAbsent(key, data);
        }

        @Override
        public void delete(String key) {
            ops.add("delete " + key);
            stateAtDelete.put(key, store.get(Experiment.STATE));
            store.delete(key);
        }

        @Override
        public ListPage list(String prefix, String token, int maxKeys) {
            ops.add("list " + prefix);
            return store.list(prefix, token, maxKeys);
        }

        @Override
        public void close() { } // the delegate belongs to the test
    }
}
