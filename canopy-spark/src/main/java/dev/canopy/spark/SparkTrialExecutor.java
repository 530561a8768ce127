package dev.canopy.spark;

import dev.canopy.api.tune.TrialResult;
import dev.canopy.tune.SegmentWorker;
import dev.canopy.tune.TrainableFactory;
import dev.canopy.tune.TrialExecutor;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Each trial segment is a one-task Spark job, so trials spread over the cluster's executors and a
 * segment lost with an executor is re-run by Spark. Checkpoints live in the object store, so any
 * executor can continue any trial. Jobs are submitted from {@code slots} driver threads (Spark runs
 * concurrent jobs from different threads).
 */
public final class SparkTrialExecutor implements TrialExecutor {
    /** Per executor JVM: keeps trainables of recent segments so a trial that lands on the same JVM skips set-up. */
    private static final SegmentWorker WORKER = new SegmentWorker(4);

    private final SparkSession spark;
    private final TrainableFactory factory;
    private final int slots;
    private final int ranks;
    private final ExecutorService submitters;

    public SparkTrialExecutor(SparkSession spark, TrainableFactory factory, int slots) {
        this(spark, factory, slots, 1);
    }

    /**
     * With {@code ranksPerTrial} &gt; 1 each segment is a barrier stage of that many tasks training the trial
     * data-parallel (see {@link SparkTraining#run(SparkSession, java.net.URI, int, java.net.URI, java.nio.file.Path, String)}):
     * a trial needs that many task slots at once, so {@code slots} trials need {@code slots * ranksPerTrial}.
     */
    public SparkTrialExecutor(SparkSession spark, TrainableFactory factory, int slots, int ranksPerTrial) {
        if (ranksPerTrial < 1) throw new IllegalArgumentException("ranks per trial must be 1 or more, not " + ranksPerTrial);
        this.spark = spark;
        this.factory = factory;
        this.slots = slots;
        this.ranks = ranksPerTrial;
        AtomicInteger n = new AtomicInteger();
        this.submitters = Executors.newFixedThreadPool(slots, r -> {
            Thread t = new Thread(r, "canopy-trial-submit-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public int slots() {
        return slots;
    }

    @Override
    public CompletableFuture<TrialResult> runSegment(Segment segment) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        TrainableFactory f = factory;
        return CompletableFuture.supplyAsync(() -> {
            jsc.setJobDescription("canopy tune " + segment.trialId() + " -> " + segment.saveTo() + (ranks > 1 ? " on " + ranks + " ranks" : ""));
            if (ranks > 1) return SparkTraining.onRanks(jsc, ranks, new SegmentOnRank(segment, f));
            return jsc.parallelize(List.of(segment), 1).map(s -> WORKER.run(s, f)).collect().get(0);
        }, submitters);
    }

    @Override
    public String describe() {
        return "spark " + spark.sparkContext().master() + ", " + slots + " concurrent trial(s)" + (ranks > 1 ? " of " + ranks + " data-parallel ranks each" : "");
    }

    /** One rank of a data-parallel segment: a fresh trainable joins the ring; rank 0 saves and answers. */
    record SegmentOnRank(Segment segment, TrainableFactory factory) implements SparkTraining.RankBody<TrialResult> {
        @Override
        public TrialResult run(dev.canopy.api.train.AllReduce ring) {
            return WORKER.run(segment, factory, ring);
        }
    }

    @Override
    public void close() {
        submitters.shutdownNow();
    }
}
