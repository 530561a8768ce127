package dev.canopy.testkit;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A real S3 API server (S3Proxy 4.x, filesystem provider) in its own JVM on 127.0.0.1.
 * S3Proxy must not share our JVM: its Jetty 12 / Servlet 6 and Jackson clash with Spark's.
 * The jar location comes from the {@code canopy.s3proxy.jar} system property that the build sets.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "canopy-test";
    public static final String SECRET_KEY = "canopy-test-secret";

    private final Process process;
    private final int port;
    private final Path baseDir;
    private final String host;

    private S3ProxyServer(Process process, int port, Path baseDir, String host) {
        this.process = process;
        this.port = port;
        this.baseDir = baseDir;
        this.host = host;
    }

    /** Starts a server whose buckets live under {@code baseDir}; waits until it accepts connections. */
    public static S3ProxyServer start(Path baseDir) throws IOException {
        return start(baseDir, "127.0.0.1");
    }

    /** The same on {@code host} (a test's second "host" reaches it over a veth pair). */
    public static S3ProxyServer start(Path baseDir, String host) throws IOException {
        String jar = System.getProperty("canopy.s3proxy.jar", defaultJar().toString());
        if (!Files.exists(Path.of(jar))) {
            throw new IllegalStateException("S3Proxy jar not found at " + jar
                    + "; run the tests through Maven, which downloads org.gaul:s3proxy:jar-with-dependencies");
        }
        Files.createDirectories(baseDir);
        // a port found free can be taken before S3Proxy binds it (another test JVM starting a server at the same moment): try fresh ports
        for (int attempt = 1; ; attempt++) {
            try {
                return startOn(FreePort.find(), baseDir, host, jar);
            } catch (PortTaken taken) {
                if (attempt == 3) throw new IOException(taken.getMessage(), taken);
            }
        }
    }

    /** S3Proxy exited because its port was taken after it was found free. */
    private static final class PortTaken extends IOException {
        PortTaken(String message) {
            super(message);
        }
    }

    private static S3ProxyServer startOn(int port, Path baseDir, String host, String jar) throws IOException {
        Path props = baseDir.resolve("s3proxy.properties");
        Files.writeString(props, String.join("\n",
                "s3proxy.endpoint=http://" + host + ":" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + baseDir.resolve("data"),
                ""));
        Files.createDirectories(baseDir.resolve("data"));
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        cmd.add("-jar");
        cmd.add(jar);
        cmd.add("--properties");
        cmd.add(props.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(baseDir.resolve("s3proxy.log").toFile());
        // its logback.xml takes levels and appender from these: at LOG_LEVEL=warn it would never say it listens (awaitUp reads that)
        pb.environment().keySet().removeAll(List.of("LOG_LEVEL", "JETTY_LOG_LEVEL", "LOG_APPENDER"));
        Process p = pb.start();
        // a JVM stopped by a signal (Ctrl-C on a benchmark) takes its S3Proxy with it instead of leaving it listening
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly, "s3proxy-stop"));
        S3ProxyServer server = new S3ProxyServer(p, port, baseDir, host);
        try {
            server.awaitUp(Duration.ofSeconds(60));
        } catch (IOException | RuntimeException e) {
            server.close(); // not left running when it never came up
            throw e;
        }
        return server;
    }

    /** Where Maven puts the S3Proxy jar that the build fetches (tests and benchmarks use it). */
    public static Path defaultJar() {
        return Path.of(System.getProperty("user.home"), ".m2", "repository", "org", "gaul", "s3proxy", "4.1.0",
                "s3proxy-4.1.0-jar-with-dependencies.jar");
    }

    private void awaitUp(Duration timeout) throws IOException {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            String log = new String(Files.readAllBytes(baseDir.resolve("s3proxy.log")), java.nio.charset.StandardCharsets.UTF_8); // lenient: a half-written character is fine
            if (!process.isAlive()) {
                // S3Proxy prints "Failed to bind to /HOST:PORT" and exits; Jetty's own BindException only at debug level
                if (log.contains("Failed to bind to") || log.contains("BindException") || log.contains("Address already in use")) {
                    throw new PortTaken("S3Proxy's port " + port + " was taken");
                }
                throw new IOException("S3Proxy exited early: " + log);
            }
            // up when its own log says it listens there: another process on the same port would accept connections too
            try (Socket s = new Socket(host, port)) {
                if (log.contains("{" + host + ":" + port + "}")) return;
            } catch (IOException notYet) {
                // not listening yet
            }
            try {
                Thread.sleep(100); // waiting on another process: no clock to inject here
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        close();
        throw new IOException("S3Proxy did not start on port " + port + " within " + timeout);
    }

    public URI endpoint() {
        return URI.create("http://" + host + ":" + port);
    }

    /** CPU time the S3Proxy process has used so far (zero where the OS does not say): what a local store costs the cores it shares. */
    public java.time.Duration cpuTime() {
        return process.info().totalCpuDuration().orElse(java.time.Duration.ZERO);
    }

    /** Buckets are folders in the filesystem provider. */
    public void createBucket(String name) throws IOException {
        Files.createDirectories(baseDir.resolve("data").resolve(name));
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Finds a free TCP port on the loopback interface. */
    public static final class FreePort {
        private FreePort() { }

        public static int find() throws IOException {
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            }
        }
    }
}
