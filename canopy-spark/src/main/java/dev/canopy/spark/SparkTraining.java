package dev.canopy.spark;

import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.train.RingAllReduce;
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

    /**
     * The run on {@code workers} data-parallel ranks: one barrier stage of {@code workers} tasks (Spark starts them
     * together or not at all), which exchange their all-reduce addresses with {@code BarrierTaskContext.allGather} and
     * join a {@link RingAllReduce}. Contract of the tasks: each runs on one executor thread and needs a task slot of its
     * own (the cluster must have {@code workers} free cores); a task that fails or whose executor is lost fails the
     * whole stage, which Spark runs again (up to {@code spark.stage.maxConsecutiveAttempts} times), every rank
     * continuing from the run's latest checkpoint; rank 0 alone writes checkpoints and registers. The ring's secret is
     * made here and travels in the task closure (Spark's RPC, authenticated on a cluster with a secret).
     */
    public static Outcome run(SparkSession spark, URI run, int workers, URI registryRoot, Path modelCache, String registerAs) {
        if (workers <= 1) return run(spark, run, registryRoot, modelCache, registerAs);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.setJobDescription("canopy train " + run + " on " + workers + " workers");
        return onRanks(jsc, workers, new TrainOnRank(run.toString(), registryRoot == null ? null : registryRoot.toString(), modelCache.toString(),
                registerAs));
    }

    /** What each rank of a barrier stage runs, once it has joined the ring; rank 0's answer is the stage's (others: null). */
    public interface RankBody<T> extends java.io.Serializable {
        T run(dev.canopy.api.train.AllReduce ring) throws Exception;
    }

    /**
     * Runs {@code body} on {@code ranks} tasks of one barrier stage joined by a {@link RingAllReduce} and returns
     * rank 0's answer. Contract of the tasks: each runs on one executor thread and needs a task slot of its own (the
     * cluster must have {@code ranks} free cores); a task that fails or whose executor is lost fails the whole stage,
     * which Spark runs again (up to {@code spark.stage.maxConsecutiveAttempts} times): the body must continue from
     * what rank 0 saved. The ring's secret is drawn here, per call, and travels in the task closure (Spark's RPC,
     * authenticated on a cluster with a secret).
     */
    public static <T> T onRanks(JavaSparkContext jsc, int ranks, RankBody<T> body) {
        byte[] secret = new byte[32];
        new java.security.SecureRandom().nextBytes(secret);
        RankTask<T> task = new RankTask<>(body, secret);
        org.apache.spark.rdd.RDD<Integer> parts = jsc.parallelize(java.util.stream.IntStream.range(0, ranks).boxed().toList(), ranks).rdd();
        @SuppressWarnings("unchecked")
        scala.reflect.ClassTag<Answer<T>> tag = (scala.reflect.ClassTag<Answer<T>>) (Object) scala.reflect.ClassTag$.MODULE$.apply(Answer.class);
        // the shuffle after it makes the barrier stage a map stage: Spark runs a failed barrier map stage again, but
        // aborts the job when a barrier result stage fails ("Could not recover from a failed barrier ResultStage")
        List<Answer<T>> answers = new org.apache.spark.api.java.JavaRDD<>(parts.barrier().mapPartitions(task, false, tag), tag).repartition(1).collect();
        for (Answer<T> a : answers) {
            if (a.rank() == 0) return a.value();
        }
        throw new IllegalStateException("rank 0 returned nothing");
    }

    static byte[] attemptKey(byte[] secret, int attempt) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(secret, "HmacSHA256"));
            return mac.doFinal(("canopy-stage-attempt-" + attempt).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** A rank's answer. */
    record Answer<T>(int rank, T value) implements java.io.Serializable { }

    /** Trains a run as one rank (see {@link #run(SparkSession, URI, int, URI, Path, String)}); rank 0 registers. */
    record TrainOnRank(String runUri, String registryRoot, String modelCache, String registerAs) implements RankBody<Outcome> {
        @Override
        public Outcome run(dev.canopy.api.train.AllReduce ring) throws Exception {
            return train(runUri, registryRoot, modelCache, ring.rank() == 0 ? registerAs : null, ring);
        }
    }

    /** One rank of a barrier stage: rendezvous through {@code BarrierTaskContext.allGather}, then the body. */
    static final class RankTask<T> extends scala.runtime.AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Answer<T>>>
            implements java.io.Serializable {
        private final RankBody<T> body;
        private final byte[] secret;

        RankTask(RankBody<T> body, byte[] secret) {
            this.body = body;
            this.secret = secret;
        }

        @Override
        public scala.collection.Iterator<Answer<T>> apply(scala.collection.Iterator<Integer> partition) {
            org.apache.spark.BarrierTaskContext ctx = org.apache.spark.BarrierTaskContext.get();
            int rank = ctx.partitionId();
            // the address this executor's block manager serves on: one the other executors reach
            String host = org.apache.spark.SparkEnv.get().blockManager().blockManagerId().host();
            RingAllReduce.Listener listener = RingAllReduce.listen(host);
            List<String> addresses;
            try {
                addresses = List.of(ctx.allGather(listener.address()));
            } catch (RuntimeException e) {
                listener.close();
                throw e;
            }
            // a key per stage attempt: a rank left over from a failed attempt cannot join the next attempt's ring
            byte[] key = attemptKey(secret, ctx.stageAttemptNumber());
            try (RingAllReduce ring = RingAllReduce.join(listener, rank, addresses, key, java.time.Duration.ofMinutes(2))) {
                // Spark cancels the other tasks of a failed barrier stage by setting a flag a blocked socket read never
                // sees: closing the ring on that flag frees the task's slot for the next attempt at once
                java.util.concurrent.ScheduledExecutorService watchdog = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "canopy-rank-" + rank + "-watchdog");
                    t.setDaemon(true);
                    return t;
                });
                watchdog.scheduleWithFixedDelay(() -> {
                    if (ctx.isInterrupted()) ring.close();
                }, 500, 500, java.util.concurrent.TimeUnit.MILLISECONDS);
                try {
                    return scala.jdk.javaapi.CollectionConverters.asScala(List.of(new Answer<>(rank, body.run(ring))).iterator());
                } finally {
                    watchdog.shutdownNow();
                }
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("rank " + rank + " failed: " + e, e);
            }
        }
    }

    /** The task's body: train from the latest checkpoint to the last epoch, then register. */
    static Outcome train(String runUri, String registryRoot, String modelCache, String registerAs) throws java.io.IOException {
        return train(runUri, registryRoot, modelCache, registerAs, dev.canopy.api.train.AllReduce.single());
    }

    static Outcome train(String runUri, String registryRoot, String modelCache, String registerAs, dev.canopy.api.train.AllReduce ring)
            throws java.io.IOException {
        TrainingRun r = TrainingRun.open(URI.create(runUri), S3Settings.fromEnvironment());
        try (TileClassifierTrainable t = r.execute(null, TileClassifierTrainable.ProgressSink.NONE, ring);
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
            return new Outcome(ref, t.iteration(), last, (ring.size() > 1 ? ring.size() + " ranks, rank 0 on " : "") + "executor " + (env == null ? "?" : env.executorId()) + " (pid " + ProcessHandle.current().pid() + ")");
        }
    }
}
