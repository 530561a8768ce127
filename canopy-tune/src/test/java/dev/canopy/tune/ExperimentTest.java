package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExperimentTest {
    @TempDir
    Path tmp;
    static final Objective ACC = new Objective("val_accuracy", true);
    static final SearchSpace SPACE = SearchSpace.parse("quality: {uniform: [0.1, 1.0]}");
    static final TrainableFactory FACTORY = new TrainableFactory(CurveTrainable.class.getName(), Map.of());

    private Experiment experiment(FileObjectStore store, TrialScheduler scheduler, int samples, int maxT, Experiment.Listener l, boolean resume) {
        LocalTrialExecutor ex = new LocalTrialExecutor(FACTORY, new TrialExecutor.Resources(2, 0), new TrialExecutor.Resources(1, 0));
        Searcher searcher = new RandomSearcher(SPACE, 3);
        return resume ? Experiment.resume(store, searcher, scheduler, ex, samples, maxT, 1, "val_accuracy", l)
                : Experiment.create(store, Map.of("scheduler", "asha"), searcher, scheduler, ex, samples, maxT, 1, "val_accuracy", l);
    }

    @Test
    void ashaSavesComputeAndFindsTheBest() throws Exception {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            ExperimentState s = experiment(store, new AshaScheduler(ACC, 9, 1, 3), 24, 9, null, false).run();
            assertThat(s.trials).hasSize(24).allMatch(Trial::isFinished);
            Experiment.Cost cost = Experiment.cost(s.trials, 9);
            assertThat(cost.savedPercent()).isGreaterThan(50);
            Trial best = Experiment.best(s.trials, ACC).orElseThrow();
            double bestQuality = s.trials.stream().mapToDouble(t -> ((Number) t.config().get("quality")).doubleValue()).max().orElseThrow();
            assertThat(((Number) best.config().get("quality")).doubleValue()).isGreaterThan(bestQuality - 0.1);
            assertThat(best.getStatus()).isEqualTo(Trial.Status.COMPLETED);
            assertThat(s.trials.stream().filter(t -> t.getStatus() == Trial.Status.STOPPED)).isNotEmpty();
            String svg = TrialPlot.svg(s.trials, ACC, 9, "test");
            assertThat(svg).startsWith("<svg").contains("stopped early").contains("compute saved").contains("<circle");
            assertThat(svg.split("<polyline").length - 1).isEqualTo(24);
            // only the latest checkpoint of each trial is kept
            assertThat(store.listAll("trials/" + best.id() + "/").filter(o -> o.key().endsWith("state.json")).count()).isEqualTo(1);
        }
    }

    @Test
    void resumesAfterTheDriverDiesWithoutRedoingFinishedWork() throws Exception {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            AtomicInteger events = new AtomicInteger();
            Experiment first = experiment(store, new AshaScheduler(ACC, 9, 1, 3), 12, 9, (e, t, what) -> {
                // die in the middle of handling a result, after checkpoints moved on but before the state is saved
                if (what != Experiment.Event.ADDED && events.incrementAndGet() == 15) throw new IllegalStateException("driver killed");
            }, false);
            try {
                first.run();
            } catch (IllegalStateException expected) {
                // the driver died here; its state is on disk
            }
            ExperimentState crashed = Experiment.load(store);
            Map<String, Integer> finishedBefore = new java.util.HashMap<>();
            for (Trial t : crashed.trials) if (t.isFinished()) finishedBefore.put(t.id(), t.getSegmentsRun());
            assertThat(crashed.status).isEqualTo("running");

            ExperimentState s = experiment(store, new AshaScheduler(ACC, 9, 1, 3), 12, 9, null, true).run();
            assertThat(s.status).isEqualTo("finished");
            assertThat(s.trials).hasSize(12).allMatch(Trial::isFinished);
            assertThat(s.trials).noneMatch(t -> t.getStatus() == Trial.Status.ERROR);
            for (Trial t : s.trials) {
                if (finishedBefore.containsKey(t.id())) assertThat(t.getSegmentsRun()).as(t.id()).isEqualTo(finishedBefore.get(t.id()));
                List<Integer> its = t.getResults().stream().map(r -> r.iteration()).toList();
                assertThat(its).as(t.id()).doesNotHaveDuplicates().isSorted();
            }
        }
    }

    @Test
    void failingTrialsAreRetriedThenMarkedAsErrors() throws Exception {
        try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp"))) {
            LocalTrialExecutor ex = new LocalTrialExecutor(FACTORY, new TrialExecutor.Resources(2, 0), new TrialExecutor.Resources(1, 0));
            Searcher failing = (i, h) -> i < 3 ? Map.of("quality", 0.5, "fail", i == 1) : null;
            ExperimentState s = Experiment.create(store, Map.of(), failing, new FifoScheduler(3), ex, 3, 3, 2, "val_accuracy", null).run();
            Trial bad = s.trials.get(1);
            assertThat(bad.getStatus()).isEqualTo(Trial.Status.ERROR);
            assertThat(bad.getFailures()).isEqualTo(3);
            assertThat(bad.getError()).contains("configured to fail");
            assertThat(s.trials.get(0).getStatus()).isEqualTo(Trial.Status.COMPLETED);
        }
    }

    @Test
    void pbtAndHyperBandRunToTheEnd() throws Exception {
        for (TrialScheduler sch : List.of(new HyperBandScheduler(ACC, 9, 3, 1, 10),
                new PbtScheduler(ACC, 2, 0.25, SPACE, 0.25, 1), new MedianStoppingRule(ACC, 2, 3))) {
            try (FileObjectStore store = new FileObjectStore(tmp.resolve("exp-" + sch.getClass().getSimpleName()))) {
                ExperimentState s = experiment(store, sch, 10, 9, null, false).run();
                assertThat(s.trials).as(sch.getClass().getSimpleName()).hasSize(10).allMatch(Trial::isFinished);
                assertThat(Experiment.best(s.trials, ACC)).isPresent();
            }
        }
    }
}
