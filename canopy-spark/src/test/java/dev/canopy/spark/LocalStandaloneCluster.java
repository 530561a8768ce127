package dev.canopy.spark;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * A real Spark standalone cluster on 127.0.0.1: one Master and N Workers, each its own JVM,
 * started from this JVM's class path (Spark needs a SPARK_HOME whose {@code jars/} holds it; class
 * folders, as tests have them, are packed into jars, which {@code LocalClusterProvider} does not do). A test fixture;
 * {@link #close()} stops everything.
 */
final class LocalStandaloneCluster implements AutoCloseable {
    private final Path home;
    private final Process master;
    private final List<Process> workers = new ArrayList<>();
    private final int masterPort;

    private LocalStandaloneCluster(Path home, Process master, int masterPort) {
        this.home = home;
        this.master = master;
        this.masterPort = masterPort;
    }

    public static LocalStandaloneCluster start(Path home, int workers, int coresPerWorker, String workerMemory) throws IOException {
        Path jars = home.resolve("spark-home/jars");
        Files.createDirectories(jars);
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isDirectory(p)) {
                jarFolder(p, jars.resolve("classes-" + (n++) + ".jar"));
            } else if (Files.isRegularFile(p) && p.toString().endsWith(".jar")) {
                Path link = jars.resolve(p.getFileName());
                if (!Files.exists(link)) Files.createSymbolicLink(link, p.toAbsolutePath());
            }
        }
        int port = freePort();
        Process m = launch(home, "master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--webui-port", Integer.toString(freePort())));
        LocalStandaloneCluster c = new LocalStandaloneCluster(home, m, port);
        c.awaitPort(port, Duration.ofSeconds(60));
        for (int i = 0; i < workers; i++) c.addWorker(coresPerWorker, workerMemory);
        return c;
    }

    /** Starts one more Worker and returns its process. */
    public Process addWorker(int cores, String memory) throws IOException {
        int i = workers.size();
        Path work = home.resolve("worker-" + i);
        Files.createDirectories(work);
        Process w = launch(home, "worker-" + i, List.of("org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores",
                Integer.toString(cores), "--memory", memory, "--work-dir", work.toString(), "--webui-port", Integer.toString(freePort()),
                masterUrl()));
        workers.add(w);
        return w;
    }

    public String masterUrl() {
        return "spark://127.0.0.1:" + masterPort;
    }

    public List<Process> workers() {
        return List.copyOf(workers);
    }

    /** Kills a worker and the executors it started, as a crashed machine would vanish. */
    public void killWorker(int i) {
        Process w = workers.get(i);
        w.descendants().forEach(ProcessHandle::destroyForcibly);
        w.destroyForcibly();
    }

    private static Process launch(Path home, String name, List<String> mainAndArgs) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        cmd.add("-cp");
        cmd.add(home.resolve("spark-home/jars").toString() + "/*");
        cmd.add("-Djava.io.tmpdir=" + home.resolve("tmp"));
        for (String p : dev.canopy.spark.SparkSessions.OPENED_PACKAGES) cmd.add("--add-opens=" + p + "=ALL-UNNAMED");
        cmd.addAll(mainAndArgs);
        Files.createDirectories(home.resolve("tmp"));
        Files.createDirectories(home.resolve("local"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(home.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", home.resolve("spark-home").toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("SPARK_LOCAL_DIRS", home.resolve("local").toString());
        return pb.start();
    }

    private void awaitPort(int port, Duration timeout) throws IOException {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            if (!master.isAlive()) throw new IOException("Spark master exited; see " + home.resolve("master.log"));
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                try {
                    Thread.sleep(100); // another process is starting: nothing to inject a clock into
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
        }
        throw new IOException("Spark master did not listen on " + port + " within " + timeout);
    }

    private static void jarFolder(Path dir, Path jar) throws IOException {
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o); Stream<Path> files = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!Files.isRegularFile(f)) continue;
                j.putNextEntry(new JarEntry(dir.relativize(f).toString().replace(File.separatorChar, '/')));
                Files.copy(f, j);
                j.closeEntry();
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        for (Process w : workers) {
            w.descendants().forEach(ProcessHandle::destroyForcibly);
            w.destroyForcibly();
        }
        master.destroyForcibly();
    }
}
