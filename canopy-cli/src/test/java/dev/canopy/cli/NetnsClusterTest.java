package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.canopy.api.JavaOpens;
import dev.canopy.cluster.ClusterSpec;
import dev.canopy.cluster.ClusterStatus;
import dev.canopy.cluster.LocalClusterProvider;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.testkit.S3ProxyServer;
import java.io.File;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing assumes one host: a cluster whose only worker runs in a network namespace of its own (a second "host" made
 * with {@code ip netns} and a veth pair, reaching this one at 10.211.0.1 only), with S3Proxy on that address as the
 * shared store for the survey, the registry and the output. Batch inference runs there, from a driver here, and
 * every tile comes back once. Runs as root (here and in CI); everything is removed in {@code finally}.
 */
@Timeout(600)
class NetnsClusterTest {
    static final String HOST = "10.211.0.1";
    static final String GUEST = "10.211.0.2";
    static final int TILES = 200;
    @TempDir
    Path tmp;

    static String ipTool() {
        for (String p : new String[] {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) if (Files.isExecutable(Path.of(p))) return p;
        return null;
    }

    static void sh(boolean check, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int code = p.waitFor();
        if (check) assertThat(code).as(String.join(" ", cmd) + ": " + out).isZero();
    }

    @Test
    void aJobRunsOnAWorkerInAnotherNetworkNamespaceThroughASharedStore() throws Exception {
        String ip = ipTool();
        boolean possible = ip != null && "root".equals(System.getProperty("user.name"));
        if ("1".equals(System.getenv("CANOPY_REQUIRE_NETNS"))) assertThat(possible).as("CANOPY_REQUIRE_NETNS=1 but not root or no ip(8)").isTrue();
        Assumptions.assumeTrue(possible, "needs root and ip(8): network namespaces");
        removeStale(ip);
        String n = Long.toString(ProcessHandle.current().pid()); // the whole pid: a later run can tell a dead run's leftovers
        String ns = "cnp" + n, vethHost = "cnh" + n, vethGuest = "cng" + n;
        Map<String, String> saved = new HashMap<>();
        List<String> props = List.of("CANOPY_S3_ENDPOINT", "CANOPY_S3_PATH_STYLE", "aws.accessKeyId", "aws.secretAccessKey", "aws.region",
                "spark.driver.host", "spark.driver.bindAddress", "spark.executorEnv.AWS_ACCESS_KEY_ID", "spark.executorEnv.AWS_SECRET_ACCESS_KEY",
                "spark.executorEnv.AWS_REGION");
        props.forEach(k -> saved.put(k, System.getProperty(k)));
        S3ProxyServer s3 = null;
        Process worker = null;
        LocalClusterProvider provider = null;
        String master = null;
        try {
            sh(true, ip, "netns", "add", ns);
            sh(true, ip, "link", "add", vethHost, "type", "veth", "peer", "name", vethGuest);
            sh(true, ip, "link", "set", vethGuest, "netns", ns);
            sh(true, ip, "addr", "add", HOST + "/24", "dev", vethHost);
            sh(true, ip, "link", "set", vethHost, "up");
            sh(true, ip, "netns", "exec", ns, ip, "addr", "add", GUEST + "/24", "dev", vethGuest);
            sh(true, ip, "netns", "exec", ns, ip, "link", "set", vethGuest, "up");
            sh(true, ip, "netns", "exec", ns, ip, "link", "set", "lo", "up");

            // the shared store, on the address both "hosts" reach
            s3 = S3ProxyServer.start(tmp.resolve("s3"), HOST);
            s3.createBucket("canopy");
            System.setProperty("CANOPY_S3_ENDPOINT", s3.endpoint().toString());
            System.setProperty("CANOPY_S3_PATH_STYLE", "true");
            System.setProperty("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
            System.setProperty("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
            System.setProperty("aws.region", "us-east-1");
            // the driver listens where the other host's executors can reach it; they get the store's credentials
            System.setProperty("spark.driver.host", HOST);
            System.setProperty("spark.driver.bindAddress", HOST);
            System.setProperty("spark.executorEnv.AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY);
            System.setProperty("spark.executorEnv.AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
            System.setProperty("spark.executorEnv.AWS_REGION", "us-east-1");
            S3Settings settings = S3Settings.fromEnvironment();
            try (SurveyGenerator g = new SurveyGenerator(2); ObjectStore survey = ObjectStores.open(URI.create("s3://canopy/survey"), settings)) {
                g.generate(SurveySpec.of(TILES, 32, 9), survey, dev.canopy.api.ProgressListener.NONE);
            }
            new ModelRegistry(ObjectStores.open(URI.create("s3://canopy/registry"), settings), tmp.resolve("cache"), Clock.systemUTC())
                    .registerUntrained("weeds", Architecture.SMALL_CNN, 32, 1);

            // a master on this host's veth address, with no worker of its own
            List<Path> cp = Stream.of(System.getProperty("java.class.path").split(File.pathSeparator)).map(Path::of).toList();
            provider = new LocalClusterProvider(tmp.resolve("clusters"), cp, Clock.systemUTC(), null, HOST);
            ClusterStatus c = provider.create(new ClusterSpec("netns", 0, 1, "1g"));
            assertThat(c.masterUrl()).startsWith("spark://" + HOST + ":");
            master = c.masterUrl();
            // beyond loopback the cluster requires Spark's authentication: a secret in a file only this user reads, never on a command line
            Map<String, String> auth = provider.driverConf("netns");
            assertThat(auth).containsEntry("spark.authenticate", "true").containsKey("spark.authenticate.secret");
            Path authFile = tmp.resolve("clusters").toRealPath().resolve("netns").resolve("spark-auth.properties");
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(authFile))).isEqualTo("rw-------");
            for (ProcessHandle h : provider.processes("netns")) {
                assertThat(h.info().commandLine().orElse("")).doesNotContain(auth.get("spark.authenticate.secret"));
            }
            dev.canopy.spark.SparkSessions.trust(c.masterUrl(), auth); // this test's driver joins by URL (--master), so it is given the secret here

            // the other host's worker: Spark's Worker in the namespace, on its own address, joining the master over the veth pair
            Path root = tmp.resolve("clusters").toRealPath();
            Path sparkHome;
            try (Stream<Path> homes = Files.list(root)) {
                sparkHome = homes.filter(h -> h.getFileName().toString().startsWith(".spark-home")).findFirst().orElseThrow();
            }
            Path work = tmp.resolve("guest-work");
            Files.createDirectories(work);
            List<String> cmd = new ArrayList<>(List.of(ip, "netns", "exec", ns, Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                    "-Dcanopy.cluster=" + root.resolve("netns"), "-cp", sparkHome.resolve("jars") + File.separator + "*"));
            cmd.addAll(JavaOpens.flags());
            cmd.addAll(List.of("org.apache.spark.deploy.worker.Worker", "--host", GUEST, "--cores", "1", "--memory", "1g", "--work-dir", work.toString(),
                    "--properties-file", authFile.toString(), c.masterUrl()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("guest-worker.log").toFile());
            pb.environment().put("SPARK_HOME", sparkHome.toString());
            pb.environment().put("SPARK_SCALA_VERSION", "2.13");
            pb.environment().put("SPARK_LOCAL_IP", GUEST);
            worker = pb.start();
            LocalClusterProvider p = provider;
            await().atMost(Duration.ofSeconds(90)).until(() -> p.status("netns").workersAlive() == 1);
            // both ends applied the file (Spark logs its security settings as it starts)
            assertThat(Files.readString(root.resolve("netns/master.log"))).contains("authentication enabled");
            assertThat(Files.readString(tmp.resolve("guest-worker.log"))).contains("authentication enabled");
            // the address is part of the cluster's record: a provider with the default (loopback) address still reaches it
            ClusterStatus seen = new LocalClusterProvider(tmp.resolve("clusters"), cp, Clock.systemUTC()).status("netns");
            assertThat(seen.state()).isEqualTo(ClusterStatus.RUNNING);
            assertThat(seen.masterUrl()).isEqualTo(c.masterUrl());

            MainTest.Result r = MainTest.run("--no-progress", "--home", tmp.resolve("home").toString(), "--registry", "s3://canopy/registry", "infer",
                    "--model", "weeds", "--survey", "s3://canopy/survey", "--out", "s3://canopy/predictions", "--master", c.masterUrl(),
                    "--rows-per-shard", "50", "--engine", "pytorch");
            assertThat(r.code()).as(r.err() + r.out() + Files.readString(tmp.resolve("guest-worker.log"))).isZero();
            try (Stream<Path> apps = Files.list(work)) {
                assertThat(apps.filter(a -> a.getFileName().toString().startsWith("app-")).count()).as("the executors ran on the other host").isEqualTo(1);
            }
            Path shards = tmp.resolve("shards");
            Files.createDirectories(shards);
            try (ObjectStore out = ObjectStores.open(URI.create("s3://canopy/predictions"), settings); var all = out.listAll("shards/")) {
                for (var o : all.toList()) Files.write(shards.resolve(Path.of(o.key()).getFileName()), out.get(o.key()));
            }
            try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
                 ResultSet rs = db.createStatement().executeQuery("SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE status = 'ok') FROM read_parquet('"
                         + shards + "/*.parquet')")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(TILES);
                assertThat(rs.getLong(2)).isEqualTo(TILES);
                assertThat(rs.getLong(3)).isEqualTo(TILES);
            }
        } finally {
            // every step on its own: one that fails must not leave the namespace or the link behind
            Process w = worker;
            LocalClusterProvider pr = provider;
            String m = master;
            S3ProxyServer store = s3;
            Throwable failed = null;
            for (ThrowingRunnable step : List.<ThrowingRunnable>of(
                    () -> { if (w != null) w.destroyForcibly().waitFor(); },
                    () -> { if (m != null) dev.canopy.spark.SparkSessions.trust(m, Map.of()); },
                    () -> { if (pr != null) pr.delete("netns"); },
                    () -> { if (store != null) store.close(); },
                    () -> props.forEach(k -> {
                        if (saved.get(k) == null) System.clearProperty(k);
                        else System.setProperty(k, saved.get(k));
                    }),
                    () -> removeNamespace(ip, ns, vethHost))) {
                try {
                    step.run();
                } catch (Throwable t) {
                    if (failed == null) failed = t;
                    else failed.addSuppressed(t);
                }
            }
            if (failed != null) throw new AssertionError("cleaning up after the test failed", failed);
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Kills what still runs in the namespace (it would keep it alive), then removes it and the host's end of the link. */
    static void removeNamespace(String ip, String ns, String vethHost) throws Exception {
        Process p = new ProcessBuilder(ip, "netns", "pids", ns).redirectErrorStream(true).start();
        String pids = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        for (String pid : pids.split("\\s+")) {
            if (pid.matches("[0-9]+")) ProcessHandle.of(Long.parseLong(pid)).ifPresent(h -> {
                h.destroyForcibly();
                h.onExit().join();
            });
        }
        sh(false, ip, "netns", "del", ns);
        sh(false, ip, "link", "del", vethHost);
    }

    /** Namespaces and links an earlier run left behind (its JVM was killed before its finally ran). */
    static void removeStale(String ip) throws Exception {
        Process p = new ProcessBuilder(ip, "netns", "list").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        for (String line : out.split("\n")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("^cnp([0-9]+)\\b").matcher(line.trim());
            if (!m.find()) continue;
            long owner = Long.parseLong(m.group(1));
            if (ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false)) continue; // another run's, still going
            removeNamespace(ip, "cnp" + owner, "cnh" + owner);
        }
    }
}
