package dev.canopy.spark;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Builds the Spark session Canopy jobs run on: {@code local[*]} by default, any {@code spark://}
 * master otherwise. For a cluster, Canopy's own jars go in {@code spark.jars} (executors need the
 * application classes; Spark's and the libraries' jars are expected on the workers).
 */
public final class SparkSessions {
    public static final String DEFAULT_MASTER = "local[*]";

    private SparkSessions() { }

    /**
     * An embedded master with at least {@code slots} task slots, and never fewer than the cores: a barrier stage
     * (data-parallel training) needs all its ranks running at once, which {@code local[*]} on a small machine cannot give.
     */
    public static String localWithSlots(int slots) {
        return "local[" + Math.max(slots, Runtime.getRuntime().availableProcessors()) + "]";
    }

    public static SparkSession create(String master, String appName, List<String> extraJars) {
        SparkSession.Builder b = SparkSession.builder().appName(appName).master(master == null ? DEFAULT_MASTER : master)
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                // Java serialization: job objects are small records, which Kryo 4 cannot serialize
                .config("spark.task.maxFailures", "4")
                .config("spark.sql.shuffle.partitions", "8")
                // a lost executor's tasks are re-run at once rather than after the default 60 s
                .config("spark.network.timeout", "30s")
                .config("spark.network.timeoutInterval", "10s")
                .config("spark.executor.heartbeatInterval", "1s")
                // a barrier stage (data-parallel training) waiting for more task slots than the cluster has fails after a
                // minute with Spark's message naming both counts, not after Spark's default of ten
                .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "5s")
                .config("spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures", "12");
        if (loopbackOnly(master)) {
            // an embedded engine, or a cluster on this machine's loopback, listens on this machine only (Spark would otherwise pick
            // the host's network address for the driver's RPC, block manager and jar server)
            b.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1");
        }
        List<String> jars = new ArrayList<>(extraJars == null ? List.of() : extraJars);
        if (master != null && !master.startsWith("local")) {
            jars.addAll(canopyJars());
            b.config("spark.executor.extraJavaOptions", String.join(" ", javaOptions()));
        }
        if (!jars.isEmpty()) b.config("spark.jars", String.join(",", jars));
        if (master != null) CLUSTER_CONF.getOrDefault(master, Map.of()).forEach(b::config); // a cluster's secret, in this JVM's memory only
        // executors reach the same object store as the driver
        executorEnvironment(System.getenv(), System.getProperties()).forEach((k, v) -> b.config("spark.executorEnv." + k, v));
        return b.getOrCreate();
    }

    /**
     * Runs {@code tasks} small tasks that load the classes a prediction needs, so that the application's executors are
     * up, hold Canopy's jars and have loaded the inference engine before the first job comes (a warm driver's start).
     * The task body lives here, in a module every executor gets.
     */
    public static void warmUp(SparkSession spark, int tasks) {
        org.apache.spark.api.java.JavaSparkContext jsc = org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<Integer> slots = new ArrayList<>();
        for (int i = 0; i < Math.max(1, tasks); i++) slots.add(i);
        jsc.setJobDescription("canopy warm-up");
        jsc.parallelize(slots, slots.size()).map(i -> {
            Class.forName("dev.canopy.batch.TilePipeline");
            Class.forName("ai.djl.engine.Engine");
            return i;
        }).count();
    }

    /** True for {@code local[...]} (or none) and for a standalone master on 127.0.0.1 or localhost. */
    private static final java.util.concurrent.ConcurrentHashMap<String, Map<String, String>> CLUSTER_CONF = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Settings every session on {@code master} gets (a cluster's {@code spark.authenticate} secret, from its provider):
     * kept in this JVM's memory, never put on a command line. The executors get the secret from their worker, not from
     * the driver (Spark leaves it out of their command lines).
     */
    public static void trust(String master, Map<String, String> conf) {
        if (conf.isEmpty()) CLUSTER_CONF.remove(master);
        else CLUSTER_CONF.put(master, Map.copyOf(conf));
    }

    static boolean loopbackOnly(String master) {
        if (master == null || master.startsWith("local")) return true;
        return master.startsWith("spark://127.0.0.1:") || master.startsWith("spark://localhost:");
    }

    /** AWS variables executors need for the same credentials as the driver (temporary ones included), and libtorch's. */
    static final List<String> FORWARDED = List.of("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
            "PYTORCH_VERSION", "PYTORCH_FLAVOR", "TORCH_CPP_LOG_LEVEL");

    /**
     * What the driver forwards to executors: the AWS variables above and every {@code CANOPY_S3_*}
     * variable, with {@code CANOPY_S3_*} system properties of the driver winning (as in
     * {@link dev.canopy.storage.S3Settings#fromEnvironment()}).
     */
    static java.util.Map<String, String> executorEnvironment(java.util.Map<String, String> env, java.util.Properties props) {
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        env.forEach((k, v) -> {
            if (v != null && (k.startsWith("CANOPY_S3_") || FORWARDED.contains(k))) out.put(k, v);
        });
        for (String k : props.stringPropertyNames()) if (k.startsWith("CANOPY_S3_")) out.put(k, props.getProperty(k));
        return out;
    }

    /** Jars of Canopy's own modules on this JVM's class path. */
    static List<String> canopyJars() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = new File(e).getName();
            if (name.startsWith("canopy-") && name.endsWith(".jar")) out.add(new File(e).getAbsolutePath());
        }
        return out;
    }

    /** Packages Spark (Kryo, Netty, its unsafe helpers) needs opened on Java 17; the launcher passes the same list. */
    public static final List<String> OPENED_PACKAGES = dev.canopy.api.JavaOpens.PACKAGES;

    /** The JVM options executors need on Java 17. */
    public static List<String> javaOptions() {
        List<String> o = new ArrayList<>();
        for (String p : OPENED_PACKAGES) o.add("--add-opens=" + p + "=ALL-UNNAMED");
        o.add("-Djdk.reflect.useDirectMethodHandle=false");
        o.add("-Dio.netty.tryReflectionSetAccessible=true");
        o.add("-Dai.djl.offline=true");
        // a driver that decodes with ImageIO records that in the models it registers: executors that train them must too
        if (dev.canopy.imagery.ImageDecoder.JpegMethod.preferred() == dev.canopy.imagery.ImageDecoder.JpegMethod.IMAGEIO_SUBSAMPLED) {
            o.add("-Dcanopy.decoder=imageio");
        }
        return o;
    }
}
