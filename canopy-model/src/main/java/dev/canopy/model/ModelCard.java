package dev.canopy.model;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {@code model.json}: everything needed to use a model and to know where it came from.
 *
 * @param format        how the weights are stored: {@code djl} (Canopy-trained block parameters),
 *                      {@code torchscript} ({@code model.pt}) or {@code onnx} ({@code model.onnx})
 * @param architecture  {@code small-cnn}, {@code resnet18}, or a free name for imported models
 * @param inputSize     square input edge in pixels; inputs are CHW float RGB
 * @param mean          per-channel mean subtracted after scaling pixels to [0,1]
 * @param std           per-channel std divided by
 * @param classes       output index to class name
 * @param metrics       validation metrics of the packaged weights
 * @param provenance    seed, data set, code version, parameters
 */
public record ModelCard(String name, String format, String architecture, int inputSize, float[] mean, float[] std,
                        List<String> classes, Map<String, Double> metrics, Provenance provenance, ConfusionMatrix confusion) {
    public static final String FORMAT_DJL = "djl";
    public static final String FORMAT_TORCHSCRIPT = "torchscript";
    public static final String FORMAT_ONNX = "onnx";

    public ModelCard {
        if (classes == null || classes.size() < 2) {
            throw new ModelException("model.bad_classes", "a model needs at least 2 classes, got " + classes, "list the class names in order");
        }
        if (inputSize < 8) throw new ModelException("model.bad_input_size", "input size " + inputSize + " is too small", "use 8 or more");
        if (mean == null || mean.length != 3 || std == null || std.length != 3) {
            throw new ModelException("model.bad_normalisation", "mean and std need 3 values (R,G,B)", "e.g. mean [0.485,0.456,0.406]");
        }
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
    }

    /** A card without a confusion matrix (imported models, untrained ones). */
    public ModelCard(String name, String format, String architecture, int inputSize, float[] mean, float[] std,
                     List<String> classes, Map<String, Double> metrics, Provenance provenance) {
        this(name, format, architecture, inputSize, mean, std, classes, metrics, provenance, null);
    }

    /**
     * How the tiles this model learned from were decoded: the method its provenance records
     * ({@code jpeg_decoder}); ImageIO's for a Canopy-trained model from before the method was recorded
     * (that was the only one); null for an imported model (unknown: the machine's preferred one).
     */
    public dev.canopy.imagery.ImageDecoder.JpegMethod jpegMethod() {
        if (provenance == null) return null;
        Object recorded = provenance.parameters() == null ? null : provenance.parameters().get("jpeg_decoder");
        if (recorded != null) {
            try {
                return dev.canopy.imagery.ImageDecoder.JpegMethod.of(recorded.toString());
            } catch (IllegalArgumentException e) {
                throw new ModelException("model.unknown_jpeg_method", "model '" + name + "' was trained on JPEG tiles decoded as '" + recorded
                        + "', a method this Canopy does not know", "run it with the Canopy version that trained it, or a newer one");
            }
        }
        return "canopy train".equals(provenance.source()) ? dev.canopy.imagery.ImageDecoder.JpegMethod.IMAGEIO_SUBSAMPLED : null;
    }

    /** A decoder that gives this model the inputs it was trained on: its size, normalisation and JPEG method. */
    public dev.canopy.imagery.ImageDecoder decoder() {
        return new dev.canopy.imagery.ImageDecoder(inputSize, mean, std, jpegMethod());
    }

    public ModelCard withName(String n) {
        return new ModelCard(n, format, architecture, inputSize, mean, std, classes, metrics, provenance, confusion);
    }

    /**
     * Counts of (true class, predicted class) on the validation tiles of the epoch the model was saved at:
     * {@code matrix[t][p]}, rows and columns in {@code classes} order.
     */
    public record ConfusionMatrix(List<String> classes, long[][] matrix) { }

    /** Where a model came from (Tribuo-style): enough to retrain it or to trust it. */
    public record Provenance(Long seed, String dataset, String datasetDigest, String codeVersion, Map<String, Object> parameters,
                             Instant createdAt, String source) { }
}
