package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whatever fails (flaky, broken, badly configured), pauses or stops (by decision or through the control),
 * every trial is added once and ends once, its status says how, and the bookkeeping adds up. Fixed seeds.
 */
class ExperimentEndsOnceTest {
    static final int SAMPLES = 10;
    static final int MAX_T = 6;
    static final int MAX_FAILURES = 1;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 2024, 65537})
    void everyTrialEndsExactlyOnce(long seed) throws Exception {
        String run = ProbeTrainable.newTag("ends-" + seed);
        Map<String, String> mode = new HashMap<>();
        Searcher searcher = (i, h) -> {
            Random r = new Random(seed * 1_000_003L + i);
            double quality = 0.05 + 0.9 * r.nextDouble();
            int failAt = 1 + r.nextInt(MAX_T);
            double u = r.nextDouble();
            String m = u < 0.2 ? "flaky" : u < 0.35 ? "broken" : u < 0.5 ? "training" : "none";
            mode.put(String.format("trial-%03d", i), m);
            Map<String, Object> cfg = new LinkedHashMap<>();
            cfg.put("tag", run + "-" + i);
            cfg.put("quality", quality);
            if (!m.equals("none")) cfg.put("failAt", failAt);
            cfg.put("failTimes", m.equals("flaky") ? 1 : 99);
            if (m.equals("training")) cfg.put("failWith", "training");
            return cfg;
        };
        RunnerKit.Recording sch = new RunnerKit.Recording(new RunnerKit.Scripted((t, r, s) -> {
            double u = new Random(seed * 31 + t.getIndex() * 1009L + r.iteration()).nextDouble();
            if (u < 0.1) { // stop a waiting trial through the control, as synchronous HyperBand does
                s.trials.values().stream().filter(x -> x.getStatus() == Trial.Status.PAUSED).findFirst().ifPresent(s.control::stop);
            }
            if (u < 0.15) return Decision.STOP;
            if (u < 0.35) return Decision.PAUSE;
            return Decision.CONTINUE;
        }));
        Map<String, List<Experiment.Event>> seen = new LinkedHashMap<>();
        Experiment.Listener listener = (e, t, what) -> seen.computeIfAbsent(t.id(), k -> new ArrayList<>()).add(what);
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState state = Experiment.create(store, Map.of("seed", seed), searcher, sch, new RunnerKit.InlineExecutor(3), SAMPLES, MAX_T,
                    MAX_FAILURES, "val_accuracy", listener).run();
            assertThat(state.trials).hasSize(SAMPLES);
            int spent = 0;
            for (Trial trial : state.trials) {
                List<Experiment.Event> ev = seen.get(trial.id());
                String about = trial.id() + " " + mode.get(trial.id()) + " " + ev;
                assertThat(ev.get(0)).as(about).isEqualTo(Experiment.Event.ADDED);
                assertThat(ev.stream().filter(x -> x == Experiment.Event.ADDED)).as(about).hasSize(1);
                assertThat(ev.stream().filter(Experiment.Event::isEnd)).as(about).hasSize(1);
                Experiment.Event end = ev.get(ev.size() - 1);
                Trial.Status expected = switch (end) {
                    case STOP -> Trial.Status.STOPPED;
                    case COMPLETED -> Trial.Status.COMPLETED;
                    case ERROR -> Trial.Status.ERROR;
                    default -> null; // the last event is not an end: fails below
                };
                assertThat(trial.getStatus()).as(about).isEqualTo(expected);
                List<Integer> its = trial.getResults().stream().map(TrialResult::iteration).toList();
                assertThat(its).as(about).isEqualTo(IntStream.rangeClosed(1, its.size()).boxed().toList());
                assertThat(trial.getSegmentsRun()).as(about).isEqualTo(its.size());
                assertThat(its.size()).as(about).isLessThanOrEqualTo(MAX_T);
                if (end == Experiment.Event.COMPLETED) assertThat(its.size()).as(about).isEqualTo(MAX_T);
                spent += its.size();
                long retries = ev.stream().filter(x -> x == Experiment.Event.RETRY).count();
                boolean failed = end == Experiment.Event.ERROR;
                switch (mode.get(trial.id())) {
                    case "none", "flaky" -> {
                        assertThat(failed).as(about).isFalse();
                        assertThat(trial.getFailures()).as(about).isLessThanOrEqualTo(mode.get(trial.id()).equals("flaky") ? 1 : 0);
                        assertThat(retries).as(about).isEqualTo(trial.getFailures());
                    }
                    default -> { // broken or training: fails for good at failAt unless it ended before
                        int failAt = ((Number) trial.config().get("failAt")).intValue();
                        boolean training = mode.get(trial.id()).equals("training");
                        if (failed) {
                            assertThat(its.size()).as(about).isEqualTo(failAt - 1);
                            assertThat(trial.getFailures()).as(about).isEqualTo(MAX_FAILURES + 1);
                            assertThat(retries).as(about).isEqualTo(training ? 0 : MAX_FAILURES);
                            assertThat(trial.getError()).as(about).isEqualTo((training ? "probe cannot train at step " : "probe flaked at step ") + failAt);
                        } else {
                            assertThat(its.size()).as(about).isLessThan(failAt);
                            assertThat(trial.getFailures()).as(about).isZero();
                        }
                    }
                }
            }
            assertThat(state.events).hasSize(spent);
            assertThat(sch.results()).hasSize(spent);
            assertThat(Experiment.cost(state.trials, MAX_T).used()).isEqualTo(spent);
            assertThat(sch.log.stream().filter(x -> x.startsWith("complete "))).containsExactlyInAnyOrderElementsOf(
                    state.trials.stream().filter(x -> x.getStatus() == Trial.Status.COMPLETED).map(x -> "complete " + x.id()).toList());
            assertThat(sch.log.stream().filter(x -> x.startsWith("error "))).containsExactlyInAnyOrderElementsOf(
                    state.trials.stream().filter(x -> x.getStatus() == Trial.Status.ERROR).map(x -> "error " + x.id()).toList());
            ExperimentState onDisk = Experiment.load(store);
            assertThat(onDisk.status).isEqualTo("finished");
            assertThat(onDisk.trials).extracting(Trial::getStatus).containsExactlyElementsOf(state.trials.stream().map(Trial::getStatus).toList());
            for (Trial trial : state.trials) { // only each trial's latest checkpoint is left
                List<String> keys = RunnerKit.keys(store, "trials/" + trial.id() + "/");
                if (trial.getCheckpoint() == null) {
                    assertThat(keys).as(trial.id()).isEmpty();
                } else {
                    String ck = String.format("trials/%s/checkpoint-%04d", trial.id(), trial.getCheckpointIteration());
                    assertThat(trial.getCheckpoint()).isEqualTo(store.uri(ck).toString());
                    assertThat(keys).as(trial.id()).containsExactly(ck + "/state.json", ck + "/weights.bin");
                }
            }
        }
    }
}
