package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalTrialExecutorTest {
    @TempDir
    Path tmp;

    private static TrialExecutor.Resources res(int cpus, int gpus) {
        return new TrialExecutor.Resources(cpus, gpus);
    }

    @Test
    void slotsAreTheScarcerResourceDividedByWhatATrialNeeds() {
        try (LocalTrialExecutor ex = new LocalTrialExecutor(RunnerKit.PROBE, res(4, 0), res(2, 0))) {
            assertThat(ex.slots()).isEqualTo(2);
            assertThat(ex.describe()).isEqualTo("local, 2 slot(s) of " + res(4, 0));
        }
        try (LocalTrialExecutor ex = new LocalTrialExecutor(RunnerKit.PROBE, res(8, 4), res(1, 2))) {
            assertThat(ex.slots()).isEqualTo(2); // 8 by CPU, 2 by GPU
        }
        try (LocalTrialExecutor ex = new LocalTrialExecutor(RunnerKit.PROBE, res(1, 0), res(1, 0))) {
            assertThat(ex.slots()).isEqualTo(1); // exactly one slot is enough
        }
        assertThatThrownBy(() -> new LocalTrialExecutor(RunnerKit.PROBE, res(1, 0), res(2, 0)))
                .isInstanceOf(TuneException.class).hasMessageContaining("but only");
        assertThatThrownBy(() -> new LocalTrialExecutor(RunnerKit.PROBE, res(4, 0), res(1, 1)))
                .isInstanceOf(TuneException.class).hasMessageContaining("but only");
    }

    @Test
    void runsSegmentsOnDaemonThreadsKeepsSlotsPlusTwoTrainablesAliveAndClosesThem() throws Exception {
        try (FileObjectStore root = new FileObjectStore(tmp)) {
            String[] tags = {ProbeTrainable.newTag("local-0"), ProbeTrainable.newTag("local-1"), ProbeTrainable.newTag("local-2")};
            LocalTrialExecutor ex = new LocalTrialExecutor(RunnerKit.PROBE, res(1, 0), res(1, 0)); // one slot: three live trainables
            try {
                for (int i = 0; i < 3; i++) {
                    ex.runSegment(new TrialExecutor.Segment("t" + i, Map.of("tag", tags[i]), null, root.uri("t" + i + "/1").toString())).get();
                }
                TrialResult r = ex.runSegment(new TrialExecutor.Segment("t0", Map.of("tag", tags[0]), root.uri("t0/1").toString(),
                        root.uri("t0/2").toString())).get();
                assertThat(r.iteration()).isEqualTo(2);
                assertThat(ProbeTrainable.stats(tags[0]).setups.get()).isEqualTo(1); // still alive after two others
                assertThat(ProbeTrainable.stats(tags[0]).restores.get()).isZero();
                assertThat(ProbeTrainable.stats(tags[0]).daemon).isTrue();
                assertThat(ProbeTrainable.stats(tags[0]).thread).startsWith("canopy-trial-");
            } finally {
                ex.close();
            }
            for (String tag : tags) assertThat(ProbeTrainable.stats(tag).closes.get()).as(tag).isEqualTo(1);
        }
    }
}
