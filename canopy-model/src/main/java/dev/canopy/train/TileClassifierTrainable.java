package dev.canopy.train;

import dev.canopy.api.train.AllReduce;
import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.util.Pair;
import dev.canopy.api.CodeVersion;
import dev.canopy.api.train.Trainable;
import dev.canopy.api.train.TrainingException;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.TileSource;
import dev.canopy.model.Architecture;
import dev.canopy.model.Engines;
import dev.canopy.model.ModelCard;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a tile classifier on a survey, one epoch per {@link #step()}. Deterministic for a seed:
 * weights are initialised from the seed, the epoch order and augmentation derive from (seed,
 * epoch), and the optimiser state travels with checkpoints, so a run restored from epoch k's
 * checkpoint continues exactly as the uninterrupted run would have.
 *
 * <p>The parts: {@link SurveySamples} (what to learn from), {@link TileLoader} (batches),
 * {@link EpochLoop} (one epoch, one validation pass) and {@link Checkpoint} (the saved format). This
 * class wires them and owns the model and optimiser.
 *
 * <p>One thread drives an instance. Owns native memory, threads and stores: close it.
 */
public final class TileClassifierTrainable implements Trainable {
    private final S3Settings s3;
    private TrainConfig config;
    private SurveySamples samples;
    private ObjectStore surveyStore;
    private TileSource source;
    private TileLoader loader;
    private Model model;
    private Trainer trainer;
    private ResumableAdam optimizer;
    private EpochLoop loop;
    private int iteration;
    private final List<Map<String, Double>> history = new ArrayList<>();
    private ProgressSink progress = ProgressSink.NONE;

    public TileClassifierTrainable(S3Settings s3) {
        this.s3 = s3;
    }

    public TileClassifierTrainable() {
        this(S3Settings.fromEnvironment());
    }

    /** Receives per-batch progress of the running step; called on the driving thread. */
    public interface ProgressSink {
        ProgressSink NONE = (phase, done, total, loss) -> { };

        void batch(String phase, long imagesDone, long imagesTotal, double runningLoss);
    }

    public void onProgress(ProgressSink sink) {
        this.progress = sink == null ? ProgressSink.NONE : sink;
    }

    public TrainConfig config() {
        return config;
    }

    public List<String> classes() {
        return samples.classes();
    }

    public List<Map<String, Double>> history() {
        return List.copyOf(history);
    }

    public int trainSize() {
        return samples.train().size();
    }

    public int valSize() {
        return samples.val().size();
    }

    /** The digest of the tiles this run learns from (provenance; data-parallel ranks check they agree on it). */
    public String datasetDigest() {
        return samples.datasetDigest();
    }

    /** How many weights training changes (the length of every data-parallel sum, less 2). */
    public int parameterCount() {
        long n = 0;
        for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
            if (p.getValue().requiresGradient()) n += p.getValue().getArray().size();
        }
        return Math.toIntExact(n);
    }

    public Map<String, String> skippedTiles() {
        return loader.skipped();
    }

    @Override
    public void setup(Map<String, Object> settings) {
        config = TrainConfig.fromMap(settings);
        surveyStore = ObjectStores.open(ObjectStores.toUri(config.survey()), s3);
        samples = SurveySamples.load(surveyStore, config);
        synchronized (EpochLoop.GRADIENT_LOCK) { // the engine's random seed is global: seed and initialise as one step
            Engines.pytorch().setRandomSeed((int) config.seed());
            Block block = Architecture.of(config.architecture()).build(samples.classes().size());
            Map<String, String> idToName = new HashMap<>();
            for (Pair<String, Parameter> p : block.getParameters()) idToName.put(p.getValue().getId(), p.getKey());
            model = Model.newInstance("canopy-" + config.architecture(), Device.cpu(), "PyTorch");
            model.setBlock(block);
            int batchesPerEpoch = (samples.train().size() + config.batchSize() - 1) / config.batchSize();
            int totalUpdates = batchesPerEpoch * config.epochs();
            optimizer = new ResumableAdam(t -> config.learningRateAt(t, totalUpdates), (float) config.weightDecay(), idToName, model.getNDManager());
            NDArray weights = model.getNDManager().create(samples.classWeights());
            trainer = model.newTrainer(new DefaultTrainingConfig(new WeightedCrossEntropy(weights))
                    .optOptimizer(optimizer).optDevices(new Device[] {Device.cpu()}));
            trainer.initialize(new Shape(1, 3, config.inputSize(), config.inputSize()));
        }
        ImageDecoder decoder = new ImageDecoder(config.inputSize(), ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD);
        source = new TileSource(surveyStore, s3);
        loader = new TileLoader(source, decoder, config.decodeThreads(), DecodedTileCache.shared(), surveyStore.root().toString());
        loop = new EpochLoop(trainer, loader, config.inputSize(), config.batchSize(), samples.classes());
        loop.dataParallel(AllReduce.single(), config.workers()); // workers > 1 in one process: the slices one after the other
        ring = AllReduce.single();
        iteration = 0;
    }

    private AllReduce ring = AllReduce.single();

    /**
     * Makes this instance one rank of a data-parallel run of {@code config().workers()} ranks: each step it computes
     * the gradients of its slice of every global batch and sums them with the others' through {@code ring}, so every
     * rank makes the same update, the one a single process makes with the slices taken in turn. Only rank 0 validates
     * (the others' steps return training metrics alone). Call after {@link #setup}, before {@link #restore}; the
     * ring stays the caller's to close.
     */
    @Override
    public void dataParallel(AllReduce ring) {
        if (loop == null) throw new IllegalStateException("setup() first");
        if (ring.size() != 1 && ring.size() != config.workers()) {
            throw new TrainingException("train.workers_mismatch", "this run is configured for " + config.workers() + " workers but "
                    + ring.size() + " ranks joined", "run it with --workers " + config.workers());
        }
        this.ring = ring;
        loop.dataParallel(ring, ring.size() == 1 ? config.workers() : 1);
    }

    /** This instance's rank (0 unless {@link #dataParallel} joined it to others). */
    public int rank() {
        return ring.rank();
    }

    @Override
    public StepResult step() {
        if (trainer == null) throw new IllegalStateException("setup() first");
        int epoch = iteration + 1;
        long t0 = System.nanoTime();
        Map<String, Double> metrics = new LinkedHashMap<>(loop.train(samples.train(), epoch, config.seed(), config.augment(), progress::batch));
        if (ring.rank() == 0) { // the weights are the same on every rank: one validation says it all
            metrics.putAll(loop.validate(samples.val(), progress::batch));
            confusion = loop.lastConfusion();
        }
        metrics.put("epoch_seconds", (System.nanoTime() - t0) / 1e9);
        metrics.put("learning_rate", config.learningRateAt(Math.max(1, optimizer.globalStep()), Math.max(1, optimizer.globalStep())));
        metrics.put("skipped_tiles", (double) loader.skipped().size());
        iteration = epoch;
        history.add(metrics);
        return new StepResult(epoch, metrics);
    }

    /** Class probabilities for already normalised CHW images, in evaluation mode. */
    public float[] predict(float[] images, int n) {
        int s = config.inputSize();
        try (NDManager batch = trainer.getManager().newSubManager()) {
            NDArray x = batch.create(images, new Shape(n, 3, s, s));
            return trainer.evaluate(new NDList(x)).singletonOrThrow().softmax(1).toFloatArray();
        }
    }

    @Override
    public int iteration() {
        return iteration;
    }

    /** The trained weights (parameters with gradients, in block order), flattened: what data-parallel ranks share. */
    public float[] trainedWeights() {
        List<float[]> parts = new ArrayList<>();
        int n = 0;
        for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
            if (!p.getValue().requiresGradient()) continue;
            float[] a = p.getValue().getArray().toFloatArray();
            parts.add(a);
            n += a.length;
        }
        float[] all = new float[n];
        int at = 0;
        for (float[] a : parts) {
            System.arraycopy(a, 0, all, at, a.length);
            at += a.length;
        }
        return all;
    }

    public byte[] parameterBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DataOutputStream dos = new DataOutputStream(out)) {
            model.getBlock().saveParameters(dos);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    @Override
    public void save(URI location) {
        ResumableAdam.State st = optimizer.exportState();
        Checkpoint.write(location, s3, iteration, config.architecture(), config.inputSize(), samples.classes(), config.toMap(), history,
                parameterBytes(), st.names(), st.steps(), st.arrays().encode());
    }

    @Override
    public void restore(URI location) {
        if (trainer == null) throw new IllegalStateException("setup() first");
        Checkpoint.Loaded c = Checkpoint.read(location, s3);
        Checkpoint.State st = c.state();
        if (!st.architecture().equals(config.architecture()) || st.inputSize() != config.inputSize() || !st.classes().equals(samples.classes())) {
            throw new TrainingException("train.incompatible_checkpoint", "checkpoint " + location + " is for " + st.architecture() + " at "
                    + st.inputSize() + " px with " + st.classes().size() + " classes, but this run is " + config.architecture() + " at "
                    + config.inputSize() + " px with " + samples.classes().size() + " classes", "resume with the configuration that wrote it");
        }
        loadParameters(c.params());
        NDList arrays = NDList.decode(model.getNDManager(), c.optimizer());
        optimizer.importState(new ResumableAdam.State(st.optimizerNames(), st.optimizerSteps(), arrays));
        iteration = st.iteration();
        history.clear();
        history.addAll(st.history());
    }

    /** Copies saved values into the live parameters, keeping the arrays the trainer tracks gradients for. */
    private void loadParameters(byte[] params) {
        Block fresh = Architecture.of(config.architecture()).build(samples.classes().size());
        try (NDManager tmp = model.getNDManager().newSubManager()) {
            fresh.initialize(tmp, DataType.FLOAT32, new Shape(1, 3, config.inputSize(), config.inputSize()));
            fresh.loadParameters(tmp, new DataInputStream(new ByteArrayInputStream(params)));
            var live = model.getBlock().getParameters();
            var loaded = fresh.getParameters();
            for (int i = 0; i < live.size(); i++) {
                loaded.get(i).getValue().getArray().copyTo(live.get(i).getValue().getArray());
            }
        } catch (IOException | ai.djl.MalformedModelException e) {
            throw new TrainingException("train.corrupt_checkpoint", "cannot read checkpoint parameters: " + e.getMessage(),
                    "resume from an earlier checkpoint", e);
        }
    }

    private long[][] confusion; // of the last validation: the card carries it

    /** The trained model as a package card (weights from {@link #parameterBytes()}). */
    public ModelCard card(String name) {
        Map<String, Double> last = history.isEmpty() ? Map.of() : history.get(history.size() - 1);
        Map<String, Double> metrics = new LinkedHashMap<>();
        last.forEach((k, v) -> {
            if (k.startsWith("val_") || k.equals("epoch")) metrics.put(k, v);
        });
        return new ModelCard(name, ModelCard.FORMAT_DJL, config.architecture(), config.inputSize(), ImageDecoder.IMAGENET_MEAN,
                ImageDecoder.IMAGENET_STD, samples.classes(), metrics,
                new ModelCard.Provenance(config.seed(), surveyStore.root().toString(), samples.datasetDigest(), CodeVersion.get(), provenanceConfig(),
                        Instant.now(), "canopy train"),
                confusion == null ? null : new ModelCard.ConfusionMatrix(samples.classes(), confusion));
    }

    /** The configuration plus how the gradients of each global batch were combined. */
    private Map<String, Object> provenanceConfig() {
        Map<String, Object> m = new LinkedHashMap<>(config.toMap());
        m.put("global_batch", config.batchSize());
        m.put("jpeg_decoder", dev.canopy.imagery.ImageDecoder.JpegMethod.preferred().id()); // the loader's decoder's; inference uses the same
        // epochs restored from a checkpoint count too: a trial trained on ranks is registered from a single process
        boolean ringUsed = ring.size() > 1 || history.stream().anyMatch(h -> h.getOrDefault("allreduce_bytes", 0.0) > 0);
        m.put("all_reduce", config.workers() == 1 ? "none" : ringUsed ? "tcp-ring (reduce-scatter + all-gather), fp32"
                : "in-process accumulation of " + config.workers() + " slices");
        return m;
    }

    @Override
    public void close() {
        if (loader != null) loader.close();
        if (source != null) source.close();
        if (trainer != null) trainer.close();
        if (model != null) model.close();
        if (surveyStore != null) surveyStore.close();
    }
}
