package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kill the driver mid-run, resume, and compare the scheduler's decisions with an uninterrupted run. */
class ExperimentResumeTest {
    static final Objective ACC = new Objective("val_accuracy", true);
    static final double[] QUALITY = {0.5, 0.6, 0.9, 0.2};
    /** ASHA (one rung at 1, keep the top third) in the order a two-slot inline run sees the results. */
    static final List<String> DECISIONS = List.of("result trial-000@1 CONTINUE", "result trial-001@1 CONTINUE", "result trial-000@2 CONTINUE",
            "result trial-000@3 CONTINUE", "result trial-002@1 CONTINUE", "result trial-003@1 STOP", "result trial-002@2 CONTINUE",
            "result trial-002@3 CONTINUE");

    @TempDir
    Path tmp;

    /** Trial 1 is badly configured (a TrainingException at step 2); the others train. */
    private static Searcher searcher(String tag) {
        return (i, h) -> {
            Map<String, Object> cfg = new LinkedHashMap<>();
            cfg.put("tag", tag + "-" + i);
            cfg.put("quality", QUALITY[i]);
            if (i == 1) {
                cfg.put("failAt", 2);
                cfg.put("failWith", "training");
            }
            return cfg;
        };
    }

    private static Experiment start(FileObjectStore store, String tag, TrialScheduler scheduler, Experiment.Listener listener) {
        return Experiment.create(store, Map.of(), searcher(tag), scheduler, new RunnerKit.InlineExecutor(2), 4, 3, 1, "val_accuracy", listener);
    }

    private static AshaScheduler asha() {
        return new AshaScheduler(ACC, 3, 1, 3);
    }

    /** Runs until the driver dies while handling its eighth decision, before that is saved. */
    private static List<String> crash(FileObjectStore store, TrialScheduler scheduler) {
        List<String> seen = new ArrayList<>();
        Experiment first = start(store, ProbeTrainable.newTag("resume"), scheduler, (e, t, what) -> {
            if (what == Experiment.Event.ADDED) return;
            seen.add(t.id() + " " + what);
            if (seen.size() == 8) throw new IllegalStateException("driver killed");
        });
        assertThatThrownBy(first::run).hasMessage("driver killed");
        return seen;
    }

    @Test
    void resumeReplaysTheSavedEventsAndThenDecidesExactlyAsAnUninterruptedRun() throws Exception {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("reference"))) {
            RunnerKit.Recording reference = new RunnerKit.Recording(asha());
            start(store, ProbeTrainable.newTag("reference"), reference, null).run();
            assertThat(reference.results()).isEqualTo(DECISIONS);
        }
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            RunnerKit.Recording before = new RunnerKit.Recording(asha());
            assertThat(crash(store, before)).containsExactly("trial-000 CONTINUE", "trial-001 CONTINUE", "trial-000 CONTINUE", "trial-001 ERROR",
                    "trial-000 COMPLETED", "trial-002 CONTINUE", "trial-003 STOP", "trial-002 CONTINUE");
            assertThat(before.results()).isEqualTo(DECISIONS.subList(0, 7));
            ExperimentState crashed = Experiment.load(store);
            assertThat(crashed.status).isEqualTo("running");
            assertThat(crashed.events).hasSize(6); // the eighth result died with the driver
            assertThat(crashed.trials).extracting(Trial::getStatus)
                    .containsExactly(Trial.Status.COMPLETED, Trial.Status.ERROR, Trial.Status.RUNNING, Trial.Status.STOPPED);

            RunnerKit.Recording after = new RunnerKit.Recording(asha());
            List<String> events = new ArrayList<>();
            Experiment resumed = Experiment.resume(store, searcher("unused"), after, new RunnerKit.InlineExecutor(2), 4, 3, 1, "val_accuracy",
                    RunnerKit.into(events));
            List<String> replay = new ArrayList<>(List.of("attach", "add trial-000", "add trial-001", "add trial-002", "add trial-003"));
            replay.addAll(DECISIONS.subList(0, 6));
            replay.addAll(List.of("complete trial-000", "error trial-001"));
            assertThat(after.log).isEqualTo(replay);
            // the trial whose segment died with the driver is pending again, on disk too
            assertThat(Experiment.load(store).trials).extracting(Trial::getStatus)
                    .containsExactly(Trial.Status.COMPLETED, Trial.Status.ERROR, Trial.Status.PENDING, Trial.Status.STOPPED);
            assertThat(events).isEmpty();

            ExperimentState done = resumed.run();
            assertThat(after.results()).isEqualTo(DECISIONS);
            assertThat(after.log).endsWith("complete trial-002");
            assertThat(events).containsExactly("trial-002 CONTINUE", "trial-002 COMPLETED");
            assertThat(done.trials).extracting(Trial::getStatus)
                    .containsExactly(Trial.Status.COMPLETED, Trial.Status.ERROR, Trial.Status.COMPLETED, Trial.Status.STOPPED);
            assertThat(done.trials.get(0).getSegmentsRun()).isEqualTo(3); // finished work is not redone
            assertThat(done.trials.get(2).getResults()).extracting(TrialResult::iteration).containsExactly(1, 2, 3);
            assertThat(done.events).hasSize(8);
        }
    }

    @Test
    void duringReplayTheSchedulerCanNeitherStopNorExploit() {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            crash(store, asha());
            ExperimentState crashed = Experiment.load(store);
            RunnerKit.Scripted meddler = new RunnerKit.Scripted((t, r, s) -> {
                s.control.stop(t);
                s.control.exploit(t, s.trials.get("trial-000"), Map.of("quality", 0.01));
                return Decision.CONTINUE;
            });
            List<String> events = new ArrayList<>();
            Experiment resumed = Experiment.resume(store, searcher("unused"), meddler, new RunnerKit.InlineExecutor(2), 4, 3, 1, "val_accuracy",
                    RunnerKit.into(events));
            assertThat(events).isEmpty();
            assertThat(resumed.trials()).extracting(Trial::getStatus)
                    .containsExactly(Trial.Status.COMPLETED, Trial.Status.ERROR, Trial.Status.PENDING, Trial.Status.STOPPED);
            assertThat(resumed.trials()).extracting(Trial::getConfig).isEqualTo(crashed.trials.stream().map(Trial::getConfig).toList());
            assertThat(resumed.trials()).extracting(Trial::getCheckpoint).isEqualTo(crashed.trials.stream().map(Trial::getCheckpoint).toList());
            assertThat(RunnerKit.keys(store, "trials/")).noneMatch(k -> k.contains("/exploit-"));
        }
    }
}
