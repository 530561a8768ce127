package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runner's bookkeeping on a one-thread executor: exact event sequences, nothing timed. */
class ExperimentRunTest {
    @TempDir
    Path tmp;
    final List<String> events = new ArrayList<>();

    private Experiment create(FileObjectStore store, Searcher searcher, TrialScheduler scheduler, int slots, int samples, int maxT, int maxFailures) {
        return Experiment.create(store, Map.of("test", true), searcher, scheduler, new RunnerKit.InlineExecutor(slots), samples, maxT, maxFailures,
                "val_accuracy", RunnerKit.into(events));
    }

    private static Searcher capped(String tag, int capacity) {
        return new Searcher() {
            @Override
            public Map<String, Object> suggest(int trialIndex, List<Trial> history) {
                return Map.of("tag", tag + "-" + trialIndex);
            }

            @Override
            public int capacity() {
                return capacity;
            }
        };
    }

    @Test
    void oneSlotRunsTrialsOneAfterAnotherToMaxTAndKeepsOnlyTheLatestCheckpoint() throws Exception {
        String tag = ProbeTrainable.newTag("seq");
        RunnerKit.Recording sch = new RunnerKit.Recording(new FifoScheduler(3));
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            Experiment e = create(store, (i, h) -> Map.of("tag", tag + "-" + i, "quality", 0.5), sch, 1, 2, 3, 0);
            ExperimentState state = e.run();
            assertThat(events).containsExactly(
                    "trial-000 ADDED", "trial-000 CONTINUE", "trial-000 CONTINUE", "trial-000 COMPLETED",
                    "trial-001 ADDED", "trial-001 CONTINUE", "trial-001 CONTINUE", "trial-001 COMPLETED");
            assertThat(sch.log).containsExactly("attach",
                    "add trial-000", "result trial-000@1 CONTINUE", "result trial-000@2 CONTINUE", "result trial-000@3 CONTINUE", "complete trial-000",
                    "add trial-001", "result trial-001@1 CONTINUE", "result trial-001@2 CONTINUE", "result trial-001@3 CONTINUE", "complete trial-001");
            assertThat(state).isSameAs(e.state());
            assertThat(e.trials()).isSameAs(state.trials).hasSize(2);
            assertThat(e.metric()).isEqualTo("val_accuracy");
            for (Trial t : state.trials) {
                assertThat(t.getStatus()).isEqualTo(Trial.Status.COMPLETED);
                assertThat(t.getResults()).extracting(TrialResult::iteration).containsExactly(1, 2, 3);
                assertThat(t.getSegmentsRun()).isEqualTo(3);
                assertThat(t.getCheckpointIteration()).isEqualTo(3);
                String cp = "trials/" + t.id() + "/checkpoint-0003";
                assertThat(t.getCheckpoint()).isEqualTo(store.uri(cp).toString());
                assertThat(RunnerKit.keys(store, "trials/" + t.id() + "/")).containsExactly(cp + "/state.json", cp + "/weights.bin");
            }
            assertThat(state.events).hasSize(6);
            assertThat(Experiment.cost(state.trials, 3)).isEqualTo(new Experiment.Cost(6, 6, 0.0));
            ExperimentState onDisk = Experiment.load(store);
            assertThat(onDisk.status).isEqualTo("finished");
            assertThat(onDisk.trials).extracting(Trial::getStatus).containsOnly(Trial.Status.COMPLETED);
        }
    }

    @Test
    void theSearcherCapacityCapsTheNumberOfTrials() throws Exception {
        String tag = ProbeTrainable.newTag("cap");
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("none"))) {
            ExperimentState state = create(store, capped(tag, 0), new FifoScheduler(2), 2, 5, 2, 0).run();
            assertThat(state.trials).isEmpty();
            assertThat(state.status).isEqualTo("finished");
        }
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("two"))) {
            ExperimentState state = create(store, capped(tag, 2), new FifoScheduler(2), 2, 5, 2, 0).run();
            assertThat(state.trials).extracting(Trial::id).containsExactly("trial-000", "trial-001");
        }
    }

    @Test
    void aFailingSegmentIsRetriedFromTheLastCheckpointUpToMaxFailuresThenTheTrialErrs() throws Exception {
        String tag = ProbeTrainable.newTag("broken");
        RunnerKit.Recording sch = new RunnerKit.Recording(new FifoScheduler(3));
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, (i, h) -> Map.of("tag", tag, "failAt", 2, "failTimes", 99), sch, 1, 1, 3, 2).run();
            Trial t = state.trials.get(0);
            assertThat(events).containsExactly("trial-000 ADDED", "trial-000 CONTINUE", "trial-000 RETRY", "trial-000 RETRY", "trial-000 ERROR");
            assertThat(t.getStatus()).isEqualTo(Trial.Status.ERROR);
            assertThat(t.getFailures()).isEqualTo(3);
            assertThat(t.getError()).isEqualTo("probe flaked at step 2"); // the cause, not the CompletionException around it
            assertThat(t.getResults()).extracting(TrialResult::iteration).containsExactly(1);
            assertThat(t.getSegmentsRun()).isEqualTo(1);
            assertThat(sch.log).containsExactly("attach", "add trial-000", "result trial-000@1 CONTINUE", "error trial-000");
            assertThat(ProbeTrainable.stats(tag).failures.get()).isEqualTo(3);
            assertThat(ProbeTrainable.stats(tag).restores.get()).isEqualTo(2); // each retry restored checkpoint 1
        }
    }

    @Test
    void aSegmentThatFailsOnceIsRetriedAndTheTrialCompletes() throws Exception {
        String tag = ProbeTrainable.newTag("flaky");
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, (i, h) -> Map.of("tag", tag, "failAt", 2, "failTimes", 1), new FifoScheduler(3), 1, 1, 3, 1).run();
            Trial t = state.trials.get(0);
            assertThat(events).containsExactly("trial-000 ADDED", "trial-000 CONTINUE", "trial-000 RETRY", "trial-000 CONTINUE", "trial-000 COMPLETED");
            assertThat(t.getStatus()).isEqualTo(Trial.Status.COMPLETED);
            assertThat(t.getFailures()).isEqualTo(1);
            assertThat(t.getResults()).extracting(TrialResult::iteration).containsExactly(1, 2, 3);
            assertThat(t.getSegmentsRun()).isEqualTo(3);
        }
    }

    @Test
    void aTrainingExceptionEndsTheTrialWithoutRetry() throws Exception {
        String tag = ProbeTrainable.newTag("training");
        RunnerKit.Recording sch = new RunnerKit.Recording(new FifoScheduler(2));
        Searcher searcher = (i, h) -> {
            if (i == 0) return Map.of("tag", tag, "failAt", 1, "failWith", "training");
            return Map.of("tag", tag + "-ok");
        };
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, searcher, sch, 1, 2, 2, 3).run();
            Trial bad = state.trials.get(0);
            assertThat(events).containsExactly("trial-000 ADDED", "trial-000 ERROR", "trial-001 ADDED", "trial-001 CONTINUE", "trial-001 COMPLETED");
            assertThat(bad.getStatus()).isEqualTo(Trial.Status.ERROR);
            assertThat(bad.getFailures()).isEqualTo(4); // max_failures + 1
            assertThat(bad.getError()).isEqualTo("probe cannot train at step 1");
            assertThat(bad.getResults()).isEmpty();
            assertThat(bad.getCheckpoint()).isNull();
            assertThat(ProbeTrainable.stats(tag).setups.get()).isEqualTo(1);
            assertThat(sch.log).containsExactly("attach", "add trial-000", "error trial-000", "add trial-001",
                    "result trial-001@1 CONTINUE", "result trial-001@2 CONTINUE", "complete trial-001");
        }
    }

    @Test
    void aPausedTrialStoppedThroughTheControlNeverRunsAgain() throws Exception {
        String tag = ProbeTrainable.newTag("stopped");
        RunnerKit.Scripted sch = new RunnerKit.Scripted((t, r, s) -> {
            if (t.id().equals("trial-000")) return Decision.PAUSE;
            if (r.iteration() == 1) s.control.stop(s.trials.get("trial-000"));
            return Decision.CONTINUE;
        });
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, (i, h) -> Map.of("tag", tag + "-" + i), sch, 1, 2, 2, 0).run();
            assertThat(events).containsExactly("trial-000 ADDED", "trial-000 PAUSE", "trial-001 ADDED", "trial-000 STOP",
                    "trial-001 CONTINUE", "trial-001 COMPLETED");
            assertThat(state.trials.get(0).getStatus()).isEqualTo(Trial.Status.STOPPED);
            assertThat(state.trials.get(0).getResults()).hasSize(1);
        }
    }

    /** A trial stopped through the control while its segment runs ends once: its failing segment is not retried. */
    @Test
    void aRunningTrialStoppedThroughTheControlIsNotRetriedOrReportedAgain() throws Exception {
        String tag = ProbeTrainable.newTag("stop-running");
        RunnerKit.Recording sch = new RunnerKit.Recording(new RunnerKit.Scripted((t, r, s) -> {
            if (t.id().equals("trial-000") && r.iteration() == 1) s.control.stop(s.trials.get("trial-001"));
            return Decision.CONTINUE;
        }));
        Searcher searcher = (i, h) -> i == 0 ? Map.of("tag", tag + "-0") : Map.of("tag", tag + "-1", "failAt", 1, "failTimes", 1);
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, searcher, sch, 2, 2, 2, 1).run();
            List<String> t1 = events.stream().filter(e -> e.startsWith("trial-001")).toList();
            assertThat(t1).containsExactly("trial-001 ADDED", "trial-001 STOP");
            assertThat(state.trials.get(1).getStatus()).isEqualTo(Trial.Status.STOPPED);
            assertThat(state.trials.get(1).getResults()).isEmpty();
            assertThat(sch.log).noneMatch(l -> l.contains("trial-001@"));
            assertThat(state.trials.get(0).getStatus()).isEqualTo(Trial.Status.COMPLETED);
        }
    }

    /** A trial stopped through the control while its segment succeeds keeps no result and no checkpoint, but the work counts. */
    @Test
    void aRunningTrialStoppedWhileItsSegmentSucceedsKeepsNothingButTheCost() throws Exception {
        String tag = ProbeTrainable.newTag("stop-success");
        RunnerKit.Recording sch = new RunnerKit.Recording(new RunnerKit.Scripted((t, r, s) -> {
            if (t.id().equals("trial-000") && r.iteration() == 1) s.control.stop(s.trials.get("trial-001"));
            return Decision.CONTINUE;
        }));
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, (i, h) -> Map.of("tag", tag + "-" + i), sch, 2, 2, 2, 0).run();
            Trial stopped = state.trials.get(1);
            assertThat(stopped.getStatus()).isEqualTo(Trial.Status.STOPPED);
            assertThat(stopped.getResults()).isEmpty();
            assertThat(stopped.getCheckpoint()).isNull();
            assertThat(stopped.getSegmentsRun()).isEqualTo(1); // the compute was spent
            assertThat(RunnerKit.keys(store, "trials/trial-001/")).isEmpty(); // its checkpoint went with it
            assertThat(sch.log).noneMatch(l -> l.contains("trial-001@"));
            assertThat(events.stream().filter(e -> e.startsWith("trial-001"))).containsExactly("trial-001 ADDED", "trial-001 STOP");
        }
    }

    @Test
    void pausedTrialsGoOnWhenNothingElseCanRun() throws Exception {
        String tag = ProbeTrainable.newTag("paused");
        RunnerKit.Scripted sch = new RunnerKit.Scripted((t, r, s) -> r.iteration() == 1 ? Decision.PAUSE : Decision.CONTINUE);
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = create(store, (i, h) -> Map.of("tag", tag + "-" + i), sch, 1, 2, 2, 0).run();
            assertThat(events).containsExactly("trial-000 ADDED", "trial-000 PAUSE", "trial-001 ADDED", "trial-001 PAUSE",
                    "trial-000 COMPLETED", "trial-001 COMPLETED");
            assertThat(state.trials).allSatisfy(t -> assertThat(t.getResults()).extracting(TrialResult::iteration).containsExactly(1, 2));
        }
    }
}
