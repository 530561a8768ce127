package dev.canopy.bench;

import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.ShardReport;
import dev.canopy.batch.ShardRunner;
import dev.canopy.batch.ShardSpec;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/** Benchmarks only: the fused fetch-decode-predict baseline, one Spark task per shard. */
public final class NaiveSparkShardRunner implements ShardRunner {
    private final SparkSession spark;

    public NaiveSparkShardRunner(SparkSession spark) {
        this.spark = spark;
    }

    @Override
    public List<ShardReport> run(List<ShardSpec> shards, InferenceJobSpec job, Listener listener) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<ShardReport> out = jsc.parallelize(shards, shards.size()).map(spec -> NaiveShardTask.run(spec, job)).collect();
        shards.forEach(listener::onShardDone);
        return out;
    }

    @Override
    public int parallelism() {
        return dev.canopy.spark.SparkShardRunner.executorParallelism(spark);
    }

    @Override
    public void cancel(String reason) {
        spark.sparkContext().cancelAllJobs();
    }

    @Override
    public String describe() {
        return "naive spark " + spark.sparkContext().master();
    }
}
