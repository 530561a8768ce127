package dev.canopy.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;

/**
 * A Canopy-trained network ({@code format: djl}) on the PyTorch engine: the architecture rebuilt for
 * inference with its batch norms folded into the convolutions ({@link FoldedNetwork}), parameters frozen.
 */
public final class BlockClassifier implements TileClassifier {
    private final ModelCard card;
    private final NDManager manager;
    private final Block block;

    public BlockClassifier(ModelCard card, byte[] parameters) {
        this(card, parameters, true);
    }

    private BlockClassifier(ModelCard card, byte[] parameters, boolean fold) {
        this.card = card;
        FoldedNetwork folded = fold ? FoldedNetwork.of(card, parameters) : null;
        this.manager = Engines.newManager();
        try {
            if (folded != null) {
                this.block = folded.block(manager, card.inputSize());
            } else {
                this.block = Architecture.of(card.architecture()).build(card.classes().size());
                block.initialize(manager, DataType.FLOAT32, new Shape(1, 3, card.inputSize(), card.inputSize()));
                block.loadParameters(manager, new DataInputStream(new ByteArrayInputStream(parameters)));
                block.freezeParameters(true);
            }
        } catch (Exception e) {
            manager.close();
            throw new ModelException("model.corrupt_weights", "cannot load weights of model '" + card.name() + "': " + e.getMessage(),
                    "the package is damaged or was made for another architecture/class count; re-export it", e);
        }
    }

    /**
     * The network as trained, batch norms run as separate operators: how Canopy ran before folding,
     * kept so that {@code canopy bench infer} can measure the difference in one run.
     */
    public static BlockClassifier unfolded(ModelCard card, byte[] parameters) {
        return new BlockClassifier(card, parameters, false);
    }

    @Override
    public ModelCard card() {
        return card;
    }

    @Override
    public float[] predict(float[] images, int n) {
        int s = card.inputSize();
        try (NDManager batch = manager.newSubManager()) {
            NDArray x = batch.create(images, new Shape(n, 3, s, s));
            NDArray logits = block.forward(new ParameterStore(batch, false), new NDList(x), false).singletonOrThrow();
            return logits.softmax(1).toFloatArray();
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
