package dev.canopy.model;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * An ONNX model made elsewhere, run by ONNX Runtime on the CPU. The graph must take one
 * {@code N x 3 x S x S} float input and return {@code N x classes} logits (or probabilities: a
 * softmax of probabilities keeps their order, so top classes agree; use logits for calibrated output).
 */
public final class OnnxClassifier implements TileClassifier {
    private final ModelCard card;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final String input;

    public OnnxClassifier(ModelCard card, byte[] model) {
        this.card = card;
        // the session copies its options when created: the native options are freed right after
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(Integer.getInteger("canopy.onnx.threads", Runtime.getRuntime().availableProcessors()));
            // spinning intra-op threads burn the cores that decoding needs between batches
            if (!Boolean.getBoolean("canopy.onnx.spin")) options.addConfigEntry("session.intra_op.allow_spinning", "0");
            this.session = createOnNamedThread(env, model, options);
            if (session.getNumInputs() != 1) {
                session.close();
                throw new ModelException("model.bad_onnx", "ONNX model '" + card.name() + "' has " + session.getNumInputs() + " inputs; Canopy needs exactly one image input",
                        "export the model with a single N x 3 x S x S input");
            }
            this.input = session.getInputNames().iterator().next();
        } catch (OrtException e) {
            throw new ModelException("model.bad_onnx", "cannot load ONNX model '" + card.name() + "': " + e.getMessage(),
                    "export it with torch.onnx.export (or another ONNX exporter) and check the file", e);
        }
    }

    /**
     * Creates the session on a thread named {@code canopy-model-onnx}. ONNX Runtime starts its intra-op threads here, and
     * on Linux a new native thread takes the name of the thread that started it: without this they would carry the
     * name of whichever Spark task or request thread loaded the model, and per-thread profiles ({@code top -H},
     * {@code tools/stage_cpu.py}) would count the model's work as theirs.
     */
    private static OrtSession createOnNamedThread(OrtEnvironment env, byte[] model, OrtSession.SessionOptions options) throws OrtException {
        java.util.concurrent.FutureTask<OrtSession> create = new java.util.concurrent.FutureTask<>(() -> env.createSession(model, options));
        Thread t = new Thread(create, "canopy-model-onnx");
        t.start();
        boolean interrupted = false;
        while (true) { // the session is being made natively: wait for it (and for the thread to end) rather than leak it
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        try {
            return create.get(); // done: never blocks
        } catch (InterruptedException e) {
            throw new IllegalStateException(e); // unreachable: the task has finished
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof OrtException o) throw o;
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public ModelCard card() {
        return card;
    }

    @Override
    public float[] predict(float[] images, int n) {
        int s = card.inputSize();
        try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(images), new long[] {n, 3, s, s});
             OrtSession.Result r = session.run(Map.of(input, x))) {
            Object value = r.get(0).getValue();
            if (!(value instanceof float[][] out)) {
                throw new ModelException("model.bad_onnx", "ONNX model '" + card.name() + "' returned " + value.getClass().getSimpleName()
                        + ", not an N x classes float matrix", "make the first output the class logits");
            }
            int c = card.classes().size();
            if (out.length != n || out[0].length != c) {
                throw new ModelException("model.wrong_class_count", "model '" + card.name() + "' outputs " + out[0].length
                        + " values per image but its metadata lists " + c + " classes", "fix the classes in the metadata file");
            }
            float[] probs = new float[n * c];
            for (int i = 0; i < n; i++) softmax(out[i], probs, i * c);
            return probs;
        } catch (OrtException e) {
            throw new ModelException("model.inference_failed", "ONNX model '" + card.name() + "' failed on a " + n + " x 3 x " + s + " x " + s
                    + " batch: " + e.getMessage(), "check input_size in the model's metadata", e);
        }
    }

    private static void softmax(float[] logits, float[] out, int offset) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            out[offset + i] = (float) Math.exp(logits[i] - max);
            sum += out[offset + i];
        }
        for (int i = 0; i < logits.length; i++) out[offset + i] /= (float) sum;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new ModelException("model.close_failed", "closing ONNX session failed: " + e.getMessage(), null, e);
        }
    }
}
