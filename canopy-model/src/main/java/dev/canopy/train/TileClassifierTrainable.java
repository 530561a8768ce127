package dev.canopy.train;

import dev.canopy.api.train.TrainingException;
import dev.canopy.imagery.TileSource;

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
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.util.Pair;
import dev.canopy.api.CodeVersion;
import dev.canopy.api.Digests;
import dev.canopy.api.train.Trainable;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.model.Architecture;
import dev.canopy.model.Engines;
import dev.canopy.api.Json;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelException;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.StorageException;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Trains a tile classifier on a survey, one epoch per {@link #step()}. Deterministic for a seed:
 * weights are initialised from the seed, the epoch order and augmentation derive from (seed,
 * epoch), and the optimiser state travels with checkpoints, so a run restored from epoch k's
 * checkpoint continues exactly as the uninterrupted run would have.
 *
 * <p>One thread drives an instance. Owns native memory, threads and stores: close it.
 */
public final class TileClassifierTrainable implements Trainable {
    public static final String CHECKPOINT_STATE = "state.json";
    public static final String CHECKPOINT_PARAMS = "params.bin";
    public static final String CHECKPOINT_OPTIMIZER = "optimizer.bin";

    /**
     * DJL's PyTorch engine allows one gradient collector per process at a time, so concurrent
     * trainables (tuning trials on one JVM) take turns for forward+backward+update; data loading
     * still overlaps. libtorch already spreads one step over all cores.
     */
    private static final Object GRADIENT_LOCK = new Object();

    private final S3Settings s3;
    private TrainConfig config;
    private List<String> classes;
    private List<Sample> train;
    private List<Sample> val;
    private float[] classWeights;
    private String datasetDigest;
    private ObjectStore surveyStore;
    private TileSource source;
    private TileLoader loader;
    private Model model;
    private Trainer trainer;
    private ResumableAdam optimizer;
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
        return classes;
    }

    public List<Map<String, Double>> history() {
        return List.copyOf(history);
    }

    public int trainSize() {
        return train.size();
    }

    public int valSize() {
        return val.size();
    }

    public Map<String, String> skippedTiles() {
        return loader.skipped();
    }

    @Override
    public void setup(Map<String, Object> settings) {
        config = TrainConfig.fromMap(settings);
        surveyStore = ObjectStores.open(ObjectStores.toUri(config.survey()), s3);
        Manifest manifest = Manifest.open(surveyStore);
        classes = manifest.classes();
        datasetDigest = Digests.sha256(surveyStore.get(ManifestWriter.INDEX));
        loadSamples(manifest);
        synchronized (GRADIENT_LOCK) { // the engine's random seed is global: seed and initialise as one step
            Engines.pytorch().setRandomSeed((int) config.seed());
            Block block = Architecture.of(config.architecture()).build(classes.size());
            Map<String, String> idToName = new HashMap<>();
            for (Pair<String, Parameter> p : block.getParameters()) idToName.put(p.getValue().getId(), p.getKey());
            model = Model.newInstance("canopy-" + config.architecture(), Device.cpu(), "PyTorch");
            model.setBlock(block);
            int batchesPerEpoch = (train.size() + config.batchSize() - 1) / config.batchSize();
            int totalUpdates = batchesPerEpoch * config.epochs();
            optimizer = new ResumableAdam(t -> config.learningRateAt(t, totalUpdates), (float) config.weightDecay(), idToName, model.getNDManager());
            NDArray weights = model.getNDManager().create(classWeights);
            trainer = model.newTrainer(new DefaultTrainingConfig(new WeightedCrossEntropy(weights))
                    .optOptimizer(optimizer).optDevices(new Device[] {Device.cpu()}));
            trainer.initialize(new Shape(1, 3, config.inputSize(), config.inputSize()));
        }
        ImageDecoder decoder = new ImageDecoder(config.inputSize(), ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD);
        source = new TileSource(surveyStore, s3);
        loader = new TileLoader(source, decoder, config.decodeThreads(), DecodedTileCache.shared(), surveyStore.root().toString());
        iteration = 0;
    }

    private void loadSamples(Manifest manifest) {
        train = new ArrayList<>();
        val = new ArrayList<>();
        long[] perClass = new long[classes.size()];
        try (Stream<ManifestRow> rows = manifest.rows()) {
            Iterator<ManifestRow> it = rows.iterator();
            int n = 0;
            while (it.hasNext() && (config.maxTiles() == 0 || n < config.maxTiles())) {
                ManifestRow r = it.next();
                if (r.label() < 0 || r.label() >= classes.size()) {
                    throw new TrainingException("train.wrong_class_count", "tile " + r.id() + " has label " + r.label() + " but the survey lists "
                            + classes.size() + " classes", "regenerate the manifest");
                }
                Sample s = new Sample(r.id(), URI.create(r.uri()), r.label());
                (Split.isValidation(r.id(), config.valPercent()) ? val : train).add(s);
                perClass[r.label()]++;
                n++;
            }
        }
        if (train.isEmpty() || val.isEmpty()) {
            throw new TrainingException("train.empty_survey", "survey " + config.survey() + " has " + (train.size() + val.size())
                    + " usable tiles; training needs some for training and some for validation", "generate a larger survey (--tiles 200 or more)");
        }
        int present = 0;
        for (long c : perClass) if (c > 0) present++;
        if (present < 2) {
            throw new TrainingException("train.one_class", "every tile of " + config.survey() + " has the same class",
                    "a classifier needs at least two classes; use a larger or more varied survey");
        }
        classWeights = new float[classes.size()];
        long total = train.size() + val.size();
        for (int c = 0; c < classes.size(); c++) {
            classWeights[c] = !config.classWeights() || perClass[c] == 0 ? 1f : (float) (total / (double) (present * perClass[c]));
        }
    }

    @Override
    public StepResult step() {
        if (trainer == null) throw new IllegalStateException("setup() first");
        int epoch = iteration + 1;
        long t0 = System.nanoTime();
        int[] order = shuffled(train.size(), new SplittableRandom(config.seed() * 1_000_003L + epoch));
        Long augSeed = config.augment() ? config.seed() * 7_919L + epoch : null;
        int s = config.inputSize();
        double lossSum = 0;
        long seen = 0;
        Confusion trainConf = new Confusion(classes.size());
        for (Iterator<TileLoader.Batch> it = loader.batches(train, order, config.batchSize(), augSeed); it.hasNext(); ) {
            TileLoader.Batch b = it.next();
            try (NDManager batch = trainer.getManager().newSubManager()) {
                NDArray x = batch.create(b.x(), new Shape(b.n(), 3, s, s));
                NDArray y = batch.create(b.y());
                synchronized (GRADIENT_LOCK) {
                    try (GradientCollector gc = trainer.newGradientCollector()) {
                        NDArray logits = trainer.forward(new NDList(x)).singletonOrThrow();
                        NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(logits));
                        gc.backward(loss);
                        lossSum += loss.getFloat() * b.n();
                        long[] pred = logits.argMax(1).toLongArray();
                        for (int i = 0; i < b.n(); i++) trainConf.add(b.y()[i], (int) pred[i]);
                    }
                    trainer.step();
                }
            }
            seen += b.n();
            progress.batch("train", seen, train.size(), lossSum / seen);
        }
        double trainSeconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("epoch", (double) epoch);
        metrics.put("train_loss", seen == 0 ? Double.NaN : lossSum / seen);
        metrics.put("train_accuracy", trainConf.accuracy());
        metrics.putAll(validate());
        metrics.put("images_per_second", seen / trainSeconds);
        metrics.put("epoch_seconds", (System.nanoTime() - t0) / 1e9);
        metrics.put("learning_rate", config.learningRateAt(Math.max(1, optimizer.globalStep()), Math.max(1, optimizer.globalStep())));
        metrics.put("skipped_tiles", (double) loader.skipped().size());
        iteration = epoch;
        history.add(metrics);
        return new StepResult(epoch, metrics);
    }

    private Map<String, Double> validate() {
        int[] order = new int[val.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Confusion conf = new Confusion(classes.size());
        double lossSum = 0;
        long seen = 0;
        int s = config.inputSize();
        for (Iterator<TileLoader.Batch> it = loader.batches(val, order, config.batchSize(), null); it.hasNext(); ) {
            TileLoader.Batch b = it.next();
            try (NDManager batch = trainer.getManager().newSubManager()) {
                NDArray x = batch.create(b.x(), new Shape(b.n(), 3, s, s));
                NDArray y = batch.create(b.y());
                NDArray logits = trainer.evaluate(new NDList(x)).singletonOrThrow();
                lossSum += trainer.getLoss().evaluate(new NDList(y), new NDList(logits)).getFloat() * b.n();
                long[] pred = logits.argMax(1).toLongArray();
                for (int i = 0; i < b.n(); i++) conf.add(b.y()[i], (int) pred[i]);
            }
            seen += b.n();
            progress.batch("validate", seen, val.size(), lossSum / seen);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("val_loss", seen == 0 ? Double.NaN : lossSum / seen);
        m.putAll(conf.metrics("val", classes));
        return m;
    }

    /** Class probabilities for already normalised CHW images, in evaluation mode. */
    public float[] predict(float[] images, int n) {
        int s = config.inputSize();
        try (NDManager batch = trainer.getManager().newSubManager()) {
            NDArray x = batch.create(images, new Shape(n, 3, s, s));
            return trainer.evaluate(new NDList(x)).singletonOrThrow().softmax(1).toFloatArray();
        }
    }

    private static int[] shuffled(int n, SplittableRandom rng) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    @Override
    public int iteration() {
        return iteration;
    }

    /** The checkpoint's description, written last so a checkpoint without it is incomplete. */
    record CheckpointState(int iteration, String architecture, int inputSize, List<String> classes, Map<String, Object> config,
                           List<Map<String, Double>> history, List<String> optimizerNames, List<Integer> optimizerSteps,
                           String paramsSha256, String optimizerSha256, String codeVersion, Instant savedAt) { }

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
        byte[] params = parameterBytes();
        ResumableAdam.State st = optimizer.exportState();
        byte[] opt = st.arrays().encode();
        CheckpointState state = new CheckpointState(iteration, config.architecture(), config.inputSize(), classes, config.toMap(),
                history, st.names(), st.steps(), Digests.sha256(params), Digests.sha256(opt), CodeVersion.get(), Instant.now());
        try (ObjectStore store = ObjectStores.open(location, s3)) {
            store.put(CHECKPOINT_PARAMS, params);
            store.put(CHECKPOINT_OPTIMIZER, opt);
            store.put(CHECKPOINT_STATE, Json.write(state));
        }
    }

    @Override
    public void restore(URI location) {
        if (trainer == null) throw new IllegalStateException("setup() first");
        try (ObjectStore store = ObjectStores.open(location, s3)) {
            byte[] stateJson;
            try {
                stateJson = store.get(CHECKPOINT_STATE);
            } catch (StorageException.NotFound e) {
                throw new TrainingException("train.no_checkpoint", "no checkpoint at " + location, "give a folder written by a training run", e);
            }
            CheckpointState st = Json.read(stateJson, CheckpointState.class, "checkpoint " + location);
            if (!st.architecture().equals(config.architecture()) || st.inputSize() != config.inputSize() || !st.classes().equals(classes)) {
                throw new TrainingException("train.incompatible_checkpoint", "checkpoint " + location + " is for " + st.architecture() + " at "
                        + st.inputSize() + " px with " + st.classes().size() + " classes, but this run is " + config.architecture() + " at "
                        + config.inputSize() + " px with " + classes.size() + " classes", "resume with the configuration that wrote it");
            }
            byte[] params = store.get(CHECKPOINT_PARAMS);
            byte[] opt = store.get(CHECKPOINT_OPTIMIZER);
            if (!Digests.sha256(params).equals(st.paramsSha256()) || !Digests.sha256(opt).equals(st.optimizerSha256())) {
                throw new TrainingException("train.corrupt_checkpoint", "checkpoint " + location + " is corrupt (its files do not match their digests)",
                        "resume from an earlier epoch's checkpoint or start again");
            }
            loadParameters(params);
            NDList arrays = NDList.decode(model.getNDManager(), opt);
            optimizer.importState(new ResumableAdam.State(st.optimizerNames(), st.optimizerSteps(), arrays));
            iteration = st.iteration();
            history.clear();
            history.addAll(st.history());
        }
    }

    /** Copies saved values into the live parameters, keeping the arrays the trainer tracks gradients for. */
    private void loadParameters(byte[] params) {
        Block fresh = Architecture.of(config.architecture()).build(classes.size());
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

    /** The trained model as a package card (weights from {@link #parameterBytes()}). */
    public ModelCard card(String name) {
        Map<String, Double> last = history.isEmpty() ? Map.of() : history.get(history.size() - 1);
        Map<String, Double> metrics = new LinkedHashMap<>();
        last.forEach((k, v) -> {
            if (k.startsWith("val_") || k.equals("epoch")) metrics.put(k, v);
        });
        return new ModelCard(name, ModelCard.FORMAT_DJL, config.architecture(), config.inputSize(), ImageDecoder.IMAGENET_MEAN,
                ImageDecoder.IMAGENET_STD, classes, metrics,
                new ModelCard.Provenance(config.seed(), surveyStore.root().toString(), datasetDigest, CodeVersion.get(), config.toMap(),
                        Instant.now(), "canopy train"));
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
