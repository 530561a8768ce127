package dev.canopy.train;

import dev.canopy.api.train.AllReduce;
import dev.canopy.api.train.TrainingException;
import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.train.Trainable;
import dev.canopy.api.Json;
import dev.canopy.model.ModelException;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.StorageException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training run with a folder of its own (under the home's {@code runs/} or any store URI):
 * <pre>
 *   config.json                      the full TrainConfig, written first
 *   metrics.jsonl                    one JSON line per finished epoch
 *   checkpoints/epoch-0003/...       params, optimizer state, state.json (written last)
 *   checkpoints/latest.json          {"epoch": 3}: the newest complete checkpoint
 *   status.json                      running / finished / failed, with the epoch reached
 * </pre>
 * {@link #resume} continues from {@code latest.json} with the stored config, so a run killed at
 * any point loses at most the epoch in progress.
 */
public final class TrainingRun {
    /** Called after each epoch, on the training thread. */
    public interface Listener {
        void epochDone(Trainable.StepResult result, int epochs);
    }

    private final ObjectStore runStore;
    private final URI runUri;
    private final S3Settings s3;

    private TrainingRun(URI runUri, S3Settings s3) {
        this.runUri = runUri;
        this.s3 = s3;
        this.runStore = ObjectStores.open(runUri, s3);
    }

    public URI uri() {
        return runUri;
    }

    /** Starts a new run in an empty folder. */
    public static TrainingRun create(URI runUri, TrainConfig config, S3Settings s3) {
        TrainingRun run = new TrainingRun(runUri, s3);
        if (run.runStore.exists("config.json")) {
            throw new TrainingException("train.run_exists", "a training run already exists at " + runUri, "resume it with --resume " + runUri + " or choose another --run");
        }
        run.runStore.put("config.json", Json.write(config.toMap()));
        return run;
    }

    public static TrainingRun open(URI runUri, S3Settings s3) {
        TrainingRun run = new TrainingRun(runUri, s3);
        if (!run.runStore.exists("config.json")) {
            throw new TrainingException("train.no_run", "no training run at " + runUri, "give the folder printed by 'canopy train' when it started");
        }
        return run;
    }

    public TrainConfig config() {
        try {
            Map<String, Object> m = Json.MAPPER.readValue(runStore.get("config.json"), new TypeReference<Map<String, Object>>() { });
            return TrainConfig.fromMap(m);
        } catch (IOException e) {
            throw new TrainingException("train.corrupt_run", "config.json of " + runUri + " is not valid: " + e.getMessage(), "start a new run", e);
        }
    }

    /** The newest complete checkpoint's epoch, or 0. */
    public int latestEpoch() {
        try {
            return Json.MAPPER.readTree(runStore.get("checkpoints/latest.json")).get("epoch").asInt();
        } catch (StorageException.NotFound e) {
            return 0;
        } catch (IOException e) {
            throw new TrainingException("train.corrupt_run", "checkpoints/latest.json of " + runUri + " is not valid", "start a new run", e);
        }
    }

    URI checkpoint(int epoch) {
        return runStore.uri(String.format("checkpoints/epoch-%04d", epoch));
    }

    /**
     * Trains until the configured number of epochs, checkpointing after each one, starting from the
     * latest checkpoint if there is one. Returns the trainable (still open: the caller closes it).
     */
    public TileClassifierTrainable execute(Listener listener, TileClassifierTrainable.ProgressSink progress) {
        return execute(listener, progress, AllReduce.single());
    }

    /**
     * As {@link #execute(Listener, TileClassifierTrainable.ProgressSink)}, as one rank of a data-parallel run: every
     * rank restores the same latest checkpoint and trains its slices; rank 0 alone writes checkpoints, metrics and
     * status (the weights are the same everywhere) and calls the listener.
     */
    public TileClassifierTrainable execute(Listener listener, TileClassifierTrainable.ProgressSink progress, AllReduce ring) {
        TrainConfig config = config();
        TileClassifierTrainable t = new TileClassifierTrainable(s3);
        boolean writer = ring.rank() == 0;
        try {
            t.setup(config.toMap());
            t.dataParallel(ring);
            t.onProgress(progress);
            int from = latestEpoch();
            if (ring.size() > 1) agree(ring, from, t);
            if (from > 0) t.restore(checkpoint(from));
            if (writer) status("running", t.iteration(), config.epochs(), null);
            List<String> lines = new ArrayList<>(metricsLines());
            while (t.iteration() < config.epochs()) {
                Trainable.StepResult r = t.step();
                if (!writer) continue;
                if (!ring.active()) throw new TrainingException("train.rank_cancelled", "this rank's stage was cancelled", "nothing to do: Spark runs it again");
                t.save(checkpoint(r.iteration()));
                lines = lines.subList(0, Math.min(lines.size(), r.iteration() - 1));
                lines.add(new String(Json.MAPPER.copy().disable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                        .writeValueAsBytes(r.metrics()), StandardCharsets.UTF_8));
                runStore.put("metrics.jsonl", (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
                runStore.put("checkpoints/latest.json", Json.write(Map.of("epoch", r.iteration())));
                status("running", r.iteration(), config.epochs(), null);
                if (listener != null) listener.epochDone(r, config.epochs());
            }
            if (writer) status("finished", t.iteration(), config.epochs(), null);
            return t;
        } catch (RuntimeException | IOException e) {
            if (writer) status("failed", t.iteration(), config.epochs(), e.getMessage());
            t.close();
            if (e instanceof RuntimeException re) throw re;
            throw new java.io.UncheckedIOException((IOException) e);
        }
    }

    /**
     * Every rank must start from the same checkpoint, with the same training tiles and the same model, or their sums
     * would mix unlike things (or fall out of step). Rank 0 writes the next checkpoint only after every rank's first
     * exchange of an epoch, so all read the same one; checked rather than assumed (a stale listing of an object store
     * would break it), along with the data set's digest (16 bits at a time: sums of n equal floats stay exact), the
     * number of training tiles and of trained weights.
     */
    private void agree(AllReduce ring, int from, TileClassifierTrainable t) {
        byte[] digest = dev.canopy.api.Digests.sha256(t.datasetDigest().getBytes(StandardCharsets.UTF_8)).substring(0, 16)
                .getBytes(StandardCharsets.US_ASCII);
        float[] mine = {1, from, t.trainSize() % 65_536, t.trainSize() / 65_536, t.parameterCount() % 65_536, t.parameterCount() / 65_536, 0, 0, 0, 0};
        for (int i = 0; i < 4; i++) mine[6 + i] = Integer.parseInt(new String(digest, i * 4, 4, StandardCharsets.US_ASCII), 16);
        float[] sum = mine.clone();
        ring.sum(sum);
        if (sum[0] != ring.size()) throw new TrainingException("train.ranks_disagree", "the ring of " + runUri + " has " + sum[0] + " ranks, not " + ring.size(),
                "every rank must join the same ring");
        for (int i = 1; i < mine.length; i++) {
            if (sum[i] != mine[i] * ring.size()) {
                throw new TrainingException("train.ranks_disagree", "the ranks of " + runUri + " found different "
                        + (i == 1 ? "latest checkpoints" : i < 4 ? "training tiles" : i < 6 ? "models" : "data sets"),
                        "run it again once the survey and the run folder no longer change");
            }
        }
    }

    private List<String> metricsLines() {
        try {
            String s = new String(runStore.get("metrics.jsonl"), StandardCharsets.UTF_8);
            return s.isBlank() ? List.of() : List.of(s.strip().split("\n"));
        } catch (StorageException.NotFound e) {
            return List.of();
        }
    }

    /**
     * Records that the run failed where it stands: for the driver of a distributed run, whose ranks may all be gone
     * (a rank that fails writes its own status, and rank 0's executor may have died with the run).
     */
    public void markFailed(String error) {
        try {
            if ("finished".equals(Json.MAPPER.readTree(runStore.get("status.json")).path("state").asText())) return; // it ended before what failed
        } catch (IOException | StorageException.NotFound e) {
            // no status yet, or not readable: write one
        }
        status("failed", latestEpoch(), config().epochs(), error);
    }

    private void status(String state, int epoch, int epochs, String error) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("state", state);
        s.put("epoch", epoch);
        s.put("epochs", epochs);
        if (error != null) s.put("error", error);
        s.put("updatedAt", java.time.Instant.now().toString());
        runStore.put("status.json", Json.write(s));
    }

    /** Registers the trained weights under {@code name} in the registry. */
    public static ModelRegistry.Version register(ModelRegistry registry, String name, TileClassifierTrainable t) {
        return registry.register(name, t.card(name), t.parameterBytes());
    }
}
