package dev.canopy.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.optimizer.Optimizer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntToDoubleFunction;

/**
 * Adam whose state (moments and step counts) can be written to and read from a checkpoint, which
 * DJL's own Adam keeps private. Without it a resumed run would restart the moments from zero and
 * drift from an uninterrupted run. State is keyed by parameter <em>name</em>, because DJL parameter
 * ids are random per process.
 *
 * <p>Called by DJL's trainer on the training thread only.
 */
final class ResumableAdam extends Optimizer {
    static final float BETA1 = 0.9f;
    static final float BETA2 = 0.999f;
    static final float EPSILON = 1e-8f;

    private final IntToDoubleFunction learningRate; // by global update number, from 1
    private final float weightDecay;
    private final Map<String, String> idToName;
    private final Map<String, NDArray> means = new HashMap<>();
    private final Map<String, NDArray> variances = new HashMap<>();
    private final Map<String, Integer> steps = new HashMap<>();
    private final NDManager stateManager;

    ResumableAdam(IntToDoubleFunction learningRate, float weightDecay, Map<String, String> idToName, NDManager stateManager) {
        super(new Builder());
        this.learningRate = learningRate;
        this.weightDecay = weightDecay;
        this.idToName = idToName;
        this.stateManager = stateManager;
    }

    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        String name = idToName.getOrDefault(parameterId, parameterId);
        int t = steps.merge(name, 1, Integer::sum);
        double c1 = 1 - Math.pow(BETA1, t);
        double c2 = 1 - Math.pow(BETA2, t);
        float lr = (float) learningRate.applyAsDouble(t);
        float corrected = (float) (lr * Math.sqrt(c2) / c1);
        NDArray m = means.computeIfAbsent(name, k -> zerosLike(weight));
        NDArray v = variances.computeIfAbsent(name, k -> zerosLike(weight));
        weight.getNDArrayInternal().adamUpdate(new NDList(weight, grad, m, v), new NDList(weight), lr, corrected, weightDecay,
                rescaleGrad, clipGrad, BETA1, BETA2, EPSILON, true, false);
    }

    private NDArray zerosLike(NDArray w) {
        return stateManager.zeros(w.getShape(), w.getDataType(), w.getDevice());
    }

    /** The update count of the first parameter: the global step. */
    int globalStep() {
        return steps.values().stream().mapToInt(Integer::intValue).max().orElse(0);
    }

    /** Moments in a fixed order of names, plus the names and step counts for {@link #importState}. */
    record State(List<String> names, List<Integer> steps, NDList arrays) { }

    State exportState() {
        Map<String, Integer> ordered = new LinkedHashMap<>();
        means.keySet().stream().sorted().forEach(n -> ordered.put(n, steps.get(n)));
        NDList arrays = new NDList();
        for (String n : ordered.keySet()) {
            arrays.add(means.get(n));
            arrays.add(variances.get(n));
        }
        return new State(List.copyOf(ordered.keySet()), List.copyOf(ordered.values()), arrays);
    }

    void importState(State s) {
        means.clear();
        variances.clear();
        steps.clear();
        for (int i = 0; i < s.names().size(); i++) {
            String n = s.names().get(i);
            NDArray m = s.arrays().get(2 * i);
            NDArray v = s.arrays().get(2 * i + 1);
            m.attach(stateManager);
            v.attach(stateManager);
            means.put(n, m);
            variances.put(n, v);
            steps.put(n, s.steps().get(i));
        }
    }

    private static final class Builder extends OptimizerBuilder<Builder> {
        @Override
        protected Builder self() {
            return this;
        }
    }
}
