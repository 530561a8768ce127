package dev.canopy.spark;

import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.train.TileClassifierTrainable;
import dev.canopy.train.TrainingRun;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * A training run as a one-task Spark job: an executor of the cluster trains (the run's checkpoints and metrics
 * go to its folder in the object store, as {@code canopy train} writes them locally) and registers the model.
 *
 * <p>Contract of the task: it runs on one executor thread and may run more than once (Spark re-runs a task
 * whose executor was lost); each attempt continues from the run's latest checkpoint, so an attempt repeats at
 * most the epoch it was in. Registration happens once training has finished, in the attempt that finished it.
 * The run folder and the registry must be reachable from every executor (a shared file system on one host,
 * {@code s3://} across hosts).
 */
public final class SparkTraining {
    /** What the driver learns: the registered reference (or null), the epochs run and the last epoch's metrics. */
    public record Outcome(String registered, int epochs, Map<String, Double> metrics, String executor) implements Serializable { }

    /** In the run folder once the trained model is registered: its reference. */
    static final String REGISTERED = "registered.json";

    private SparkTraining() { }

    public static Outcome run(SparkSession spark, URI run, URI registryRoot, Path modelCache, String registerAs) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setJobDescription("canopy train " + run);
        String runUri = run.toString(), registry = registryRoot == null ? null : registryRoot.toString(), cache = modelCache.toString();
        return jsc.parallelize(List.of(runUri), 1).map(u -> train(u, registry, cache, registerAs)).collect().get(0);
    }

    /** The task's body: train from the latest checkpoint to the last epoch, then register. */
    static Outcome train(String runUri, String registryRoot, String modelCache, String registerAs) throws java.io.IOException {
        TrainingRun r = TrainingRun.open(URI.create(runUri), S3Settings.fromEnvironment());
        try (TileClassifierTrainable t = r.execute(null, TileClassifierTrainable.ProgressSink.NONE);
             dev.canopy.storage.ObjectStore runStore = ObjectStores.open(URI.create(runUri), S3Settings.fromEnvironment())) {
            String ref = null;
            if (registerAs != null) {
                // an attempt re-run after the first one registered (its executor was lost before answering) registers nothing new
                if (runStore.exists(REGISTERED)) {
                    ref = dev.canopy.api.Json.MAPPER.readTree(runStore.get(REGISTERED)).path("ref").asText();
                } else {
                    ModelRegistry registry = new ModelRegistry(ObjectStores.open(URI.create(registryRoot), S3Settings.fromEnvironment()), Path.of(modelCache),
                            Clock.systemUTC());
                    ref = TrainingRun.register(registry, registerAs, t).ref();
                    runStore.put(REGISTERED, dev.canopy.api.Json.write(Map.of("ref", ref)));
                }
            }
            Map<String, Double> last = new LinkedHashMap<>(t.card("x").metrics());
            org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
            return new Outcome(ref, t.iteration(), last, "executor " + (env == null ? "?" : env.executorId()) + " (pid " + ProcessHandle.current().pid() + ")");
        }
    }
}
