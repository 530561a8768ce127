package dev.canopy.train;

import dev.canopy.api.CodeVersion;
import dev.canopy.api.Digests;
import dev.canopy.api.Json;
import dev.canopy.api.train.Trainable;
import dev.canopy.api.train.TrainingException;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.StorageException;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The checkpoint format of a tile classifier: a folder with {@value #PARAMS} (the parameters in
 * DJL's format), {@value #OPTIMIZER} (Adam's moments, an encoded NDList) and the marker
 * {@link Trainable#CHECKPOINT_MARKER} written last, which describes the rest and holds their SHA-256
 * digests. A folder without the marker is incomplete; files that do not match their digests are a
 * corrupt checkpoint and refused.
 */
final class Checkpoint {
    static final String PARAMS = "params.bin";
    static final String OPTIMIZER = "optimizer.bin";

    /** What the marker says. */
    record State(int iteration, String architecture, int inputSize, List<String> classes, Map<String, Object> config,
                 List<Map<String, Double>> history, List<String> optimizerNames, List<Integer> optimizerSteps,
                 String paramsSha256, String optimizerSha256, String codeVersion, Instant savedAt) { }

    /** A checkpoint read back and verified. */
    record Loaded(State state, byte[] params, byte[] optimizer) { }

    private Checkpoint() { }

    static void write(URI location, S3Settings s3, int iteration, String architecture, int inputSize, List<String> classes,
                      Map<String, Object> config, List<Map<String, Double>> history, byte[] params, List<String> optimizerNames,
                      List<Integer> optimizerSteps, byte[] optimizer) {
        State state = new State(iteration, architecture, inputSize, classes, config, history, optimizerNames, optimizerSteps,
                Digests.sha256(params), Digests.sha256(optimizer), CodeVersion.get(), Instant.now());
        try (ObjectStore store = ObjectStores.open(location, s3)) {
            store.put(PARAMS, params);
            store.put(OPTIMIZER, optimizer);
            store.put(Trainable.CHECKPOINT_MARKER, Json.write(state)); // last: the checkpoint exists from here on
        }
    }

    static Loaded read(URI location, S3Settings s3) {
        try (ObjectStore store = ObjectStores.open(location, s3)) {
            byte[] stateJson;
            try {
                stateJson = store.get(Trainable.CHECKPOINT_MARKER);
            } catch (StorageException.NotFound e) {
                throw new TrainingException("train.no_checkpoint", "no checkpoint at " + location, "give a folder written by a training run", e);
            }
            State st = Json.read(stateJson, State.class, "checkpoint " + location);
            byte[] params = store.get(PARAMS);
            byte[] opt = store.get(OPTIMIZER);
            if (!Digests.sha256(params).equals(st.paramsSha256()) || !Digests.sha256(opt).equals(st.optimizerSha256())) {
                throw new TrainingException("train.corrupt_checkpoint", "checkpoint " + location + " is corrupt (its files do not match their digests)",
                        "resume from an earlier epoch's checkpoint or start again");
            }
            return new Loaded(st, params, opt);
        }
    }
}
