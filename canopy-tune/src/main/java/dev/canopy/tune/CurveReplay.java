package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;
import dev.canopy.storage.FileObjectStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a scheduler and a searcher through the real {@link Experiment} runner over learning curves
 * recorded once (every configuration trained to max_t), instead of training again: a segment
 * "trains" by answering the recorded metric of its next iteration. Schedulers and searchers are pure,
 * so a replay decides exactly what a live run with the same completion order would decide, and
 * three seeds of four methods cost one set of curves (how {@code canopy bench tune} compares them).
 *
 * <p>Completion order: the runner launches {@code slots} segments, then handles one result and
 * launches the next, as equal-speed workers would.
 */
public final class CurveReplay {
    /** One configuration's recorded curve: {@code values[i]} is the metric after iteration {@code i + 1}. */
    public record Curve(Map<String, Object> config, double[] values) { }

    /** One replayed run: its trial-epochs, the best metric seen, and the best seen after each trial-epoch. */
    public record Run(long trialEpochs, double best, double[] bestSoFar, List<Map<String, Object>> configs) {
        /** Trials the run started. */
        public int trials() {
            return configs.size();
        }

        /** The best metric seen once {@code epochs} trial-epochs were spent (the last value if the run used fewer). */
        public double bestAt(long epochs) {
            if (bestSoFar.length == 0 || epochs < 1) return Double.NaN;
            return bestSoFar[(int) Math.min(bestSoFar.length, epochs) - 1];
        }
    }

    private CurveReplay() { }

    /** Replays {@code samples} trials proposed by {@code searcher} over {@code curves}, judged by {@code scheduler}. */
    public static Run run(List<Curve> curves, Searcher searcher, TrialScheduler scheduler, int samples, int slots, int maxT, Objective objective) {
        Map<Map<String, Object>, double[]> byConfig = new HashMap<>();
        for (Curve c : curves) {
            if (c.values().length < maxT) throw new TuneException("a recorded curve has " + c.values().length + " iterations, fewer than max_t " + maxT, "record the curves again");
            byConfig.put(c.config(), c.values());
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("canopy-replay");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (FileObjectStore store = new FileObjectStore(dir); Replayer executor = new Replayer(byConfig, objective.metric(), slots)) {
            Experiment e = Experiment.create(store, Map.of("replay", true), searcher, scheduler, executor, samples, maxT, 0, objective.metric(), null);
            ExperimentState s = e.run();
            double[] bestSoFar = new double[s.events.size()];
            double best = objective.maximize() ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            for (int i = 0; i < bestSoFar.length; i++) {
                Double v = s.events.get(i).metrics().get(objective.metric());
                if (v != null && !v.isNaN()) best = objective.maximize() ? Math.max(best, v) : Math.min(best, v); // a diverged epoch is no best
                bestSoFar[i] = Double.isInfinite(best) ? Double.NaN : best;
            }
            return new Run(s.events.size(), Double.isInfinite(best) ? Double.NaN : best, bestSoFar,
                    s.trials.stream().map(Trial::config).toList());
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new TuneException("replay interrupted", "run it again");
        } finally {
            dev.canopy.storage.LocalFiles.deleteQuietly(dir);
        }
    }

    /** Answers each segment with the recorded metric of the iteration its checkpoint is named after. */
    private static final class Replayer implements TrialExecutor {
        private static final Pattern ITERATION = Pattern.compile("checkpoint-(\\d+)$");
        private final Map<Map<String, Object>, double[]> curves;
        private final String metric;
        private final int slots;

        Replayer(Map<Map<String, Object>, double[]> curves, String metric, int slots) {
            this.curves = curves;
            this.metric = metric;
            this.slots = slots;
        }

        @Override
        public int slots() {
            return slots;
        }

        @Override
        public CompletableFuture<TrialResult> runSegment(Segment s) {
            double[] curve = curves.get(s.config());
            if (curve == null) return CompletableFuture.failedFuture(new TuneException("no recorded curve for " + s.config(), "propose configurations of the pool only"));
            Matcher m = ITERATION.matcher(s.saveTo());
            if (!m.find()) return CompletableFuture.failedFuture(new IllegalStateException("unexpected checkpoint name " + s.saveTo()));
            int iteration = Integer.parseInt(m.group(1));
            return CompletableFuture.completedFuture(new TrialResult(s.trialId(), iteration, Map.of(metric, curve[iteration - 1])));
        }

        @Override
        public String describe() {
            return "replay of recorded curves, " + slots + " slot(s)";
        }

        @Override
        public void close() { }
    }

    /** Proposes the configurations of a list in its order (random search over a pool shuffled by seed). */
    public static Searcher inOrder(List<Map<String, Object>> configs) {
        List<Map<String, Object>> copy = new ArrayList<>(configs);
        return new Searcher() {
            @Override
            public Map<String, Object> suggest(int trialIndex, List<Trial> history) {
                return trialIndex < copy.size() ? copy.get(trialIndex) : null;
            }

            @Override
            public int capacity() {
                return copy.size();
            }
        };
    }
}
