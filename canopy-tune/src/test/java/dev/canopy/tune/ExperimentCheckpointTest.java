package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.Json;
import dev.canopy.api.train.Trainable;
import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectStores;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PBT's exploit and the life of checkpoint folders, on a store that records every call. */
class ExperimentCheckpointTest {
    static final String MARKER = Trainable.CHECKPOINT_MARKER;

    @TempDir
    Path tmp;
    final List<String> events = new ArrayList<>();

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void exploitCopiesTheSourceCheckpointMarkerLastAndTakesOverItsIterationAndTheNewConfig() {
        try (FileObjectStore files = new FileObjectStore(tmp.resolve("exp"))) {
            RunnerKit.RecordingStore store = new RunnerKit.RecordingStore(files);
            Experiment e = Experiment.create(store, Map.of(), (i, h) -> null, new FifoScheduler(3), new RunnerKit.InlineExecutor(1), 2, 3, 0,
                    "val_accuracy", RunnerKit.into(events));
            String from = "trials/trial-000/checkpoint-0004";
            files.put(from + "/a.bin", bytes("A"));
            files.put(from + "/" + MARKER, bytes("{\"t\":4}"));
            files.put(from + "/z.bin", bytes("Z"));
            String own = "trials/trial-001/checkpoint-0002";
            files.put(own + "/" + MARKER, bytes("{\"t\":2}"));
            Trial source = new Trial("trial-000", 0, Map.of("quality", 0.9));
            Trial target = new Trial("trial-001", 1, Map.of("quality", 0.1));
            target.setCheckpoint(files.uri(own).toString());
            target.setCheckpointIteration(2);

            assertThat(e.exploit(target, source, Map.of("quality", 0.5))).isFalse(); // the source has no checkpoint yet: nothing to copy
            assertThat(target.getCheckpoint()).isEqualTo(files.uri(own).toString());
            assertThat(target.config()).isEqualTo(Map.of("quality", 0.1));
            assertThat(events).isEmpty();

            source.setCheckpoint(files.uri(from).toString());
            source.setCheckpointIteration(4);
            store.ops.clear();
            assertThat(e.exploit(target, source, Map.of("quality", 0.72))).isTrue();
            String to = "trials/trial-001/exploit-001-from-trial-000";
            assertThat(store.ops).containsExactly("list " + from + "/", "put " + to + "/a.bin", "put " + to + "/z.bin", "put " + to + "/" + MARKER);
            assertThat(files.get(to + "/a.bin")).containsExactly(bytes("A"));
            assertThat(files.get(to + "/z.bin")).containsExactly(bytes("Z"));
            assertThat(files.get(to + "/" + MARKER)).containsExactly(bytes("{\"t\":4}"));
            assertThat(target.getCheckpoint()).isEqualTo(files.uri(to).toString());
            assertThat(target.getCheckpointIteration()).isEqualTo(4);
            assertThat(target.config()).isEqualTo(Map.of("quality", 0.72));
            assertThat(events).containsExactly("trial-001 EXPLOIT");
            // the target's own checkpoint goes only once a saved state no longer names it: not in exploit itself
            assertThat(files.exists(own + "/" + MARKER)).isTrue();

            e.exploit(target, source, Map.of("quality", 0.8)); // each exploit copies into a folder of its own
            assertThat(target.getCheckpoint()).isEqualTo(files.uri("trials/trial-001/exploit-002-from-trial-000").toString());
            assertThat(e.state().exploits).isEqualTo(2); // saved with the state: names never repeat after a resume
        }
    }

    @Test
    void anExploitedTrialGoesOnFromTheCopyAndEveryCheckpointIsDeletedOnlyAfterTheSavedStateForgotIt() throws Exception {
        String tag = ProbeTrainable.newTag("exploit");
        RunnerKit.Scripted sch = new RunnerKit.Scripted((t, r, s) -> {
            if (t.id().equals("trial-001") && r.iteration() == 1) {
                s.control.exploit(t, s.trials.get("trial-000"), Map.of("tag", tag + "-1", "quality", 0.95));
            }
            return Decision.CONTINUE;
        });
        try (FileObjectStore files = new FileObjectStore(tmp.resolve("exp"))) {
            RunnerKit.RecordingStore store = new RunnerKit.RecordingStore(files);
            Searcher searcher = (i, h) -> Map.of("tag", tag + "-" + i, "quality", 0.3 + 0.3 * i);
            ExperimentState state = Experiment.create(store, Map.of(), searcher, sch, new RunnerKit.InlineExecutor(1), 2, 3, 0, "val_accuracy",
                    RunnerKit.into(events)).run();
            assertThat(events).containsExactly("trial-000 ADDED", "trial-000 CONTINUE", "trial-000 CONTINUE", "trial-000 COMPLETED",
                    "trial-001 ADDED", "trial-001 EXPLOIT", "trial-001 CONTINUE", "trial-001 COMPLETED");
            Trial t1 = state.trials.get(1);
            String cp3 = "trials/trial-000/checkpoint-0003";
            String cp4 = "trials/trial-001/checkpoint-0004";
            assertThat(t1.getStatus()).isEqualTo(Trial.Status.COMPLETED);
            assertThat(t1.config()).isEqualTo(Map.of("tag", tag + "-1", "quality", 0.95));
            // restored from the copy of trial-000's iteration 3, trained once more with the new config
            assertThat(t1.getResults()).extracting(TrialResult::iteration).containsExactly(1, 4);
            assertThat(t1.lastMetric("val_accuracy")).isEqualTo(ProbeTrainable.accuracy(0.95, 4));
            assertThat(t1.getSegmentsRun()).isEqualTo(2);
            assertThat(t1.getCheckpointIteration()).isEqualTo(4);
            assertThat(t1.getCheckpoint()).isEqualTo(files.uri(cp4).toString());
            String copy = "put trials/trial-001/exploit-001-from-trial-000/";
            assertThat(store.ops.stream().filter(o -> o.startsWith(copy))).containsExactly(copy + "weights.bin", copy + MARKER);
            // every superseded checkpoint is gone (the copy included), each folder listed once
            assertThat(RunnerKit.keys(files, "trials/")).containsExactly(cp3 + "/" + MARKER, cp3 + "/weights.bin", cp4 + "/" + MARKER, cp4 + "/weights.bin");
            assertThat(store.ops.stream().filter(o -> o.startsWith("list "))).hasSize(5).doesNotHaveDuplicates();
            // ... and each file went only after a saved state pointed its trial elsewhere
            assertThat(store.stateAtDelete).hasSize(8);
            store.stateAtDelete.forEach((key, saved) -> {
                ExperimentState st = Json.read(saved, ExperimentState.class, "saved state");
                String owner = key.split("/")[1];
                assertThat(st.trials).as(key).anyMatch(x -> x.id().equals(owner) && x.getCheckpoint() != null);
                for (Trial other : st.trials) {
                    if (other.getCheckpoint() == null) continue;
                    String kept = ObjectStores.relativeKey(files.root(), URI.create(other.getCheckpoint()));
                    assertThat(key).as("deleted while the saved state still named it").doesNotStartWith(kept + "/");
                }
            });
        }
    }
}
