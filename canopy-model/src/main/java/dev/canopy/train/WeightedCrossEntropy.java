package dev.canopy.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;

/**
 * Softmax cross-entropy with per-class weights (a weighted mean over the batch), so that rare
 * classes (water, bare soil in a grassland) pull as hard as common ones.
 */
final class WeightedCrossEntropy extends Loss {
    private final NDArray classWeights; // owned by the model's manager
    private final int classes;

    WeightedCrossEntropy(NDArray classWeights) {
        super("weighted_softmax_ce");
        this.classWeights = classWeights;
        this.classes = (int) classWeights.size();
    }

    /**
     * The batch's weighted loss sum and weight sum, not divided: data-parallel ranks divide the summed gradients by the
     * weight sum of the whole global batch, which is what one worker's {@link #evaluate} divides by.
     */
    NDList sumAndWeight(NDList labels, NDList predictions) {
        NDArray logp = predictions.singletonOrThrow().logSoftmax(1);
        NDArray oneHot = labels.singletonOrThrow().oneHot(classes).toType(logp.getDataType(), false);
        NDArray w = oneHot.mul(classWeights).sum(new int[] {1});
        NDArray nll = oneHot.mul(logp).sum(new int[] {1}).neg();
        return new NDList(nll.mul(w).sum(), w.sum());
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logp = predictions.singletonOrThrow().logSoftmax(1);
        NDArray oneHot = labels.singletonOrThrow().oneHot(classes).toType(logp.getDataType(), false);
        NDArray w = oneHot.mul(classWeights).sum(new int[] {1});
        NDArray nll = oneHot.mul(logp).sum(new int[] {1}).neg();
        return nll.mul(w).sum().div(w.sum());
    }
}
