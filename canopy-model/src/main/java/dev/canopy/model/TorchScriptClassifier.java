package dev.canopy.model;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A TorchScript model made elsewhere (traced or scripted in PyTorch), run by DJL's libtorch. The
 * module must take {@code N x 3 x S x S} floats and return {@code N x classes} logits.
 */
public final class TorchScriptClassifier implements TileClassifier {
    private final ModelCard card;
    private final Model model;

    /** {@code file} is a local {@code .pt} file. */
    public TorchScriptClassifier(ModelCard card, Path file) {
        this.card = card;
        Engines.pytorch();
        this.model = Model.newInstance(card.name(), Device.cpu(), "PyTorch");
        try {
            String name = file.getFileName().toString().replaceFirst("\\.pt$", "");
            model.load(file.getParent(), name, Map.of("mapLocation", "true"));
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            throw new ModelException("model.bad_torchscript", "cannot load TorchScript file " + file + ": " + e.getMessage(),
                    "export it with torch.jit.trace or torch.jit.script and torch.jit.save", e);
        }
    }

    @Override
    public ModelCard card() {
        return card;
    }

    @Override
    public float[] predict(float[] images, int n) {
        int s = card.inputSize();
        try (NDManager batch = model.getNDManager().newSubManager()) {
            NDArray x = batch.create(images, new Shape(n, 3, s, s));
            NDArray logits = model.getBlock().forward(new ParameterStore(batch, false), new NDList(x), false).get(0);
            long classes = logits.getShape().get(logits.getShape().dimension() - 1);
            if (classes != card.classes().size()) {
                throw new ModelException("model.wrong_class_count", "model '" + card.name() + "' outputs " + classes
                        + " values per image but its metadata lists " + card.classes().size() + " classes", "fix the classes in the metadata file");
            }
            return logits.softmax(1).toFloatArray();
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
