package dev.canopy.spark;

import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.RowCounter;
import dev.canopy.batch.ShardReport;
import dev.canopy.batch.ShardRunner;
import dev.canopy.batch.ShardSpec;
import dev.canopy.batch.ShardTask;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.Success$;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Runs each shard as one Spark task (one element per partition), so Spark does the scheduling,
 * retries of failed tasks, re-runs after a lost executor and speculation. {@link ShardTask} is
 * idempotent, which is what makes all of those safe.
 *
 * <p>Live totals come from two Spark accumulators (rows, error rows) that tasks add to as they write.
 * Executors send running tasks' partial values with every heartbeat
 * ({@code spark.executor.heartbeatInterval}, 1 s in {@link SparkSessions}); the listener keeps the
 * latest partial value per running task and the final value per successful task, so a failed
 * attempt's rows drop out of the total when it ends. {@link #cancel} cancels the job group.
 */
public final class SparkShardRunner implements ShardRunner {
    private final SparkSession spark;
    private final AtomicReference<String> cancelled = new AtomicReference<>();
    private volatile String group;

    public SparkShardRunner(SparkSession spark) {
        this.spark = spark;
    }

    /** Adds to the job's accumulators from the task thread. */
    private record Counter(LongAccumulator rows, LongAccumulator errors) implements RowCounter {
        @Override
        public void row(boolean ok) {
            rows.add(1);
            if (!ok) errors.add(1);
        }
    }

    @Override
    public List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Listener listener) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Set<Integer> reported = ConcurrentHashMap.newKeySet();
        LongAccumulator rows = jsc.sc().longAccumulator("canopy.rows");
        LongAccumulator errors = jsc.sc().longAccumulator("canopy.errors");
        Map<Long, long[]> runningTasks = new ConcurrentHashMap<>();
        Set<Long> endedTasks = ConcurrentHashMap.newKeySet(); // a heartbeat may arrive after the task's end: ignore it then
        Set<Integer> ourStages = ConcurrentHashMap.newKeySet(); // the listener hears every job of the context: keep ours
        java.util.concurrent.atomic.AtomicBoolean finished = new java.util.concurrent.atomic.AtomicBoolean();
        AtomicLong doneRows = new AtomicLong();
        AtomicLong doneErrors = new AtomicLong();
        String g = "canopy-infer-" + System.nanoTime();
        SparkListener sparkListener = new SparkListener() {
            @Override
            public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart start) {
                if (start.properties() != null && g.equals(start.properties().getProperty("spark.jobGroup.id"))) {
                    for (Object id : CollectionConverters.asJava(start.stageIds())) ourStages.add((Integer) id);
                }
            }

            @Override
            public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate u) {
                boolean any = false;
                for (Tuple4<Object, Object, Object, scala.collection.immutable.Seq<AccumulableInfo>> t : CollectionConverters.asJava(u.accumUpdates())) {
                    long taskId = (Long) t._1();
                    if (!ourStages.contains((Integer) t._2()) || endedTasks.contains(taskId)) continue;
                    long[] v = values(t._4(), rows.id(), errors.id());
                    if (v != null) {
                        runningTasks.put(taskId, v);
                        any = true;
                    }
                }
                if (any) report();
            }

            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (!ourStages.contains(end.stageId())) return;
                long taskId = end.taskInfo().taskId();
                endedTasks.add(taskId);
                runningTasks.remove(taskId);
                if (end.reason() instanceof Success$) {
                    long[] v = values(end.taskInfo().accumulables(), rows.id(), errors.id());
                    if (v != null) {
                        doneRows.addAndGet(v[0]);
                        doneErrors.addAndGet(v[1]);
                    }
                    int partition = end.taskInfo().index();
                    if (partition >= 0 && partition < shards.size() && reported.add(partition)) listener.onShardDone(shards.get(partition));
                }
                report();
            }

            private void report() {
                if (finished.get()) return; // the run is over: the driver has written its final state
                long r = doneRows.get(), e = doneErrors.get();
                for (long[] v : runningTasks.values()) {
                    r += v[0];
                    e += v[1];
                }
                listener.onProgress(r, e);
            }
        };
        RowCounter counter = new Counter(rows, errors);
        jsc.sc().addSparkListener(sparkListener);
        group = g;
        try {
            jsc.setJobGroup(g, "canopy batch inference, " + shards.size() + " shards", true);
            if (cancelled.get() != null) throw new Cancelled(cancelled.get(), null);
            return jsc.parallelize(shards, shards.size()).map(spec -> ShardTask.run(spec, job, counter)).collect();
        } catch (Exception e) { // Spark throws its checked SparkException from Scala code
            if (cancelled.get() != null) throw new Cancelled(cancelled.get(), e);
            throw SparkShardRunner.<RuntimeException>rethrow(e);
        } finally {
            finished.set(true);
            group = null;
            jsc.clearJobGroup();
            jsc.sc().removeSparkListener(sparkListener);
        }
    }

    /** Rethrows any exception unchanged (Spark's checked exceptions reach Java callers undeclared anyway). */
    @SuppressWarnings("unchecked")
    private static <E extends Exception> E rethrow(Exception e) throws E {
        throw (E) e;
    }

    /** The (rows, errors) values among a task's accumulator infos, or null if neither is there. */
    private static long[] values(scala.collection.Seq<AccumulableInfo> infos, long rowsId, long errorsId) {
        long[] v = null;
        for (AccumulableInfo i : CollectionConverters.asJava(infos)) {
            if (i.id() != rowsId && i.id() != errorsId) continue;
            Object x = i.update().isDefined() ? i.update().get() : null;
            if (!(x instanceof Number n)) continue;
            if (v == null) v = new long[2];
            v[i.id() == rowsId ? 0 : 1] = n.longValue();
        }
        return v;
    }

    @Override
    public int parallelism() {
        return executorParallelism(spark);
    }

    /** Tasks one executor runs at once: its cores (local mode: all of this JVM's). */
    public static int executorParallelism(SparkSession spark) {
        String master = spark.sparkContext().master();
        if (master.startsWith("local")) return Math.max(1, spark.sparkContext().defaultParallelism());
        return Math.max(1, spark.sparkContext().getConf().getInt("spark.executor.cores", Runtime.getRuntime().availableProcessors()));
    }

    @Override
    public void cancel(String reason) {
        if (!cancelled.compareAndSet(null, reason)) return;
        String g = group;
        if (g != null) spark.sparkContext().cancelJobGroup(g);
    }

    @Override
    public String describe() {
        return "spark " + spark.sparkContext().master();
    }
}
