package dev.canopy.spark;

import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.ShardReport;
import dev.canopy.batch.ShardRunner;
import dev.canopy.batch.ShardSpec;
import dev.canopy.batch.ShardTask;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.apache.spark.Success$;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

/**
 * Runs each shard as one Spark task (one element per partition), so Spark does the scheduling,
 * retries of failed tasks, re-runs after a lost executor and speculation. {@link ShardTask} is
 * idempotent, which is what makes all of those safe.
 */
public final class SparkShardRunner implements ShardRunner {
    private final SparkSession spark;

    public SparkShardRunner(SparkSession spark) {
        this.spark = spark;
    }

    @Override
    public List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Consumer<ShardSpec> onShardDone) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Set<Integer> reported = ConcurrentHashMap.newKeySet();
        String group = "canopy-infer-" + System.nanoTime();
        SparkListener listener = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (!(end.reason() instanceof Success$)) return;
                int partition = end.taskInfo().index();
                if (partition >= 0 && partition < shards.size() && reported.add(partition)) onShardDone.accept(shards.get(partition));
            }
        };
        jsc.sc().addSparkListener(listener);
        try {
            jsc.setJobGroup(group, "canopy batch inference, " + shards.size() + " shards", true);
            return jsc.parallelize(shards, shards.size()).map(spec -> ShardTask.run(spec, job)).collect();
        } finally {
            jsc.clearJobGroup();
            jsc.sc().removeSparkListener(listener);
        }
    }

    @Override
    public String describe() {
        return "spark " + spark.sparkContext().master();
    }
}
