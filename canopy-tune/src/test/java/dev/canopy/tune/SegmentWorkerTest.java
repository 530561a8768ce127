package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.api.train.Trainable;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which trainables a worker keeps, reuses, closes and forgets; counted by ProbeTrainable, one tag per trainable. */
class SegmentWorkerTest {
    static final TrainableFactory PROBE = RunnerKit.PROBE;

    @TempDir
    Path tmp;
    FileObjectStore root;

    @BeforeEach
    void openRoot() {
        root = new FileObjectStore(tmp);
    }

    @AfterEach
    void closeRoot() {
        root.close();
    }

    private String uri(String key) {
        return root.uri(key).toString();
    }

    private static TrialExecutor.Segment seg(String trial, Map<String, Object> config, String from, String to) {
        return new TrialExecutor.Segment(trial, config, from, to);
    }

    /** setups, restores, closes */
    private static List<Integer> counts(String tag) {
        ProbeTrainable.Stats s = ProbeTrainable.stats(tag);
        return List.of(s.setups.get(), s.restores.get(), s.closes.get());
    }

    @Test
    void aTrialContinuingFromItsOwnLastCheckpointReusesTheLiveTrainable() {
        String tag = ProbeTrainable.newTag("reuse");
        Map<String, Object> cfg = Map.of("tag", tag, "quality", 0.6);
        SegmentWorker w = new SegmentWorker(2);
        TrialResult first = w.run(seg("a", cfg, null, uri("a/1")), PROBE);
        TrialResult second = w.run(seg("a", cfg, uri("a/1"), uri("a/2")), PROBE);
        assertThat(first.trialId()).isEqualTo("a");
        assertThat(first.iteration()).isEqualTo(1);
        assertThat(second.iteration()).isEqualTo(2);
        assertThat(second.metric("val_accuracy")).isCloseTo(ProbeTrainable.accuracy(0.6, 2), within(1e-12));
        assertThat(counts(tag)).containsExactly(1, 0, 0);
        assertThat(root.exists("a/2/" + Trainable.CHECKPOINT_MARKER)).isTrue();
    }

    @Test
    void aNewConfigAnotherCheckpointOrAFreshStartGetsANewTrainable() {
        String tag = ProbeTrainable.newTag("fresh");
        Map<String, Object> cfg = Map.of("tag", tag, "quality", 0.5);
        Map<String, Object> perturbed = Map.of("tag", tag, "quality", 0.9);
        SegmentWorker w = new SegmentWorker(4);
        w.run(seg("a", cfg, null, uri("a/1")), PROBE);
        // same checkpoint, new config (PBT's explore): restored into a new instance, the old one closed
        TrialResult r = w.run(seg("a", perturbed, uri("a/1"), uri("a/2")), PROBE);
        assertThat(r.iteration()).isEqualTo(2);
        assertThat(r.metric("val_accuracy")).isCloseTo(ProbeTrainable.accuracy(0.9, 2), within(1e-12));
        assertThat(counts(tag)).containsExactly(2, 1, 1);
        // same config but not the checkpoint the live instance is at (PBT's exploit, a retry from older state)
        r = w.run(seg("a", perturbed, uri("a/1"), uri("a/3")), PROBE);
        assertThat(r.iteration()).isEqualTo(2);
        assertThat(counts(tag)).containsExactly(3, 2, 2);
        // from scratch (a trial that failed before its first checkpoint)
        r = w.run(seg("a", perturbed, null, uri("a/4")), PROBE);
        assertThat(r.iteration()).isEqualTo(1);
        assertThat(counts(tag)).containsExactly(4, 2, 3);
    }

    @Test
    void keepsAtMostCapacityTrainablesAndClosesTheLeastRecentlyUsed() {
        String a = ProbeTrainable.newTag("lru-a");
        String b = ProbeTrainable.newTag("lru-b");
        String c = ProbeTrainable.newTag("lru-c");
        SegmentWorker w = new SegmentWorker(2);
        w.run(seg("a", Map.of("tag", a), null, uri("a/1")), PROBE);
        w.run(seg("b", Map.of("tag", b), null, uri("b/1")), PROBE);
        // two live, capacity two: a is still there and continues without set-up
        w.run(seg("a", Map.of("tag", a), uri("a/1"), uri("a/2")), PROBE);
        assertThat(counts(a)).containsExactly(1, 0, 0);
        // a third makes room by closing b, now the least recently used
        w.run(seg("c", Map.of("tag", c), null, uri("c/1")), PROBE);
        assertThat(counts(b)).containsExactly(1, 0, 1);
        assertThat(counts(a)).containsExactly(1, 0, 0);
        // b comes back: set up and restored again; a, least recent now, is closed
        TrialResult r = w.run(seg("b", Map.of("tag", b), uri("b/1"), uri("b/2")), PROBE);
        assertThat(r.iteration()).isEqualTo(2);
        assertThat(counts(b)).containsExactly(2, 1, 1);
        assertThat(counts(a)).containsExactly(1, 0, 1);
        assertThat(counts(c)).containsExactly(1, 0, 0);
    }

    @Test
    void aFailingStepClosesItsTrainableRethrowsAndTheRetryStartsFromTheCheckpoint() {
        String tag = ProbeTrainable.newTag("fail");
        Map<String, Object> cfg = Map.of("tag", tag, "failAt", 2, "failTimes", 1);
        SegmentWorker w = new SegmentWorker(2);
        w.run(seg("a", cfg, null, uri("a/1")), PROBE);
        assertThatThrownBy(() -> w.run(seg("a", cfg, uri("a/1"), uri("a/2")), PROBE))
                .isInstanceOf(IllegalStateException.class).hasMessage("probe flaked at step 2");
        assertThat(counts(tag)).containsExactly(1, 0, 1);
        assertThat(root.exists("a/2/" + Trainable.CHECKPOINT_MARKER)).isFalse();
        TrialResult r = w.run(seg("a", cfg, uri("a/1"), uri("a/2")), PROBE);
        assertThat(r.iteration()).isEqualTo(2);
        assertThat(counts(tag)).containsExactly(2, 1, 1);
    }

    @Test
    void aTrainableThatCannotBeCreatedReportsWhyInsteadOfANullPointer() {
        SegmentWorker w = new SegmentWorker(2);
        TrainableFactory missing = new TrainableFactory("dev.canopy.tune.NoSuchTrainable", Map.of());
        assertThatThrownBy(() -> w.run(seg("a", Map.of(), null, uri("a/1")), missing))
                .isInstanceOf(TuneException.class).hasMessageContaining("cannot create trainable dev.canopy.tune.NoSuchTrainable");
    }

    @Test
    void closeClosesEveryLiveTrainableAndForgetsThem() {
        String a = ProbeTrainable.newTag("close-a");
        String b = ProbeTrainable.newTag("close-b");
        SegmentWorker w = new SegmentWorker(4);
        w.run(seg("a", Map.of("tag", a), null, uri("a/1")), PROBE);
        w.run(seg("b", Map.of("tag", b), null, uri("b/1")), PROBE);
        w.close();
        assertThat(counts(a)).containsExactly(1, 0, 1);
        assertThat(counts(b)).containsExactly(1, 0, 1);
        TrialResult r = w.run(seg("a", Map.of("tag", a), uri("a/1"), uri("a/2")), PROBE);
        assertThat(r.iteration()).isEqualTo(2);
        assertThat(counts(a)).containsExactly(2, 1, 1);
    }
}
