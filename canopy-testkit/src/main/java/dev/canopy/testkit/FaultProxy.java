package dev.canopy.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on 127.0.0.1 that forwards to a real server (S3Proxy) and injects faults, one decision
 * per accepted connection, from a seeded random sequence:
 * <ul>
 *   <li>{@code RESET}: reads the start of the request, then aborts the connection (TCP RST);</li>
 *   <li>{@code HTTP_503} / {@code HTTP_500}: answers a server error with {@code Connection: close};</li>
 *   <li>{@code SLOW}: forwards, but holds the first response bytes back for {@link #slowMillis};</li>
 *   <li>{@code CUT}: forwards, then aborts the connection after a random 20-400 ms, possibly mid-request
 *       or mid-response (a keep-alive connection does not outlive faults);</li>
 *   <li>{@code PASS}: forwards both ways until either side closes.</li>
 * </ul>
 * Counters say what was injected, so a test can prove faults happened. Threads: one per direction per
 * connection (test traffic only).
 */
public final class FaultProxy implements AutoCloseable {
    public enum Fault { PASS, RESET, HTTP_503, HTTP_500, SLOW, CUT }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fault-proxy");
        t.setDaemon(true);
        return t;
    });
    private final SplittableRandom random;
    private final double faultRate;
    private final long slowMillis;
    private volatile boolean closed;
    private final AtomicLong[] injected = new AtomicLong[Fault.values().length];

    /**
     * @param faultRate share of connections that get a fault other than PASS (spread evenly over the kinds)
     */
    public static FaultProxy start(URI targetEndpoint, long seed, double faultRate, long slowMillis) throws IOException {
        return new FaultProxy(new InetSocketAddress(targetEndpoint.getHost(), targetEndpoint.getPort()), seed, faultRate, slowMillis);
    }

    private FaultProxy(InetSocketAddress target, long seed, double faultRate, long slowMillis) throws IOException {
        this.target = target;
        this.random = new SplittableRandom(seed);
        this.faultRate = faultRate;
        this.slowMillis = slowMillis;
        for (int i = 0; i < injected.length; i++) injected[i] = new AtomicLong();
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        threads.submit(this::acceptLoop);
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    public long injected(Fault f) {
        return injected[f.ordinal()].get();
    }

    /** Connections that got any fault. */
    public long faults() {
        long n = 0;
        for (Fault f : Fault.values()) if (f != Fault.PASS) n += injected(f);
        return n;
    }

    private synchronized Fault next() {
        if (random.nextDouble() >= faultRate) return Fault.PASS;
        Fault[] kinds = {Fault.RESET, Fault.HTTP_503, Fault.HTTP_500, Fault.SLOW, Fault.CUT};
        return kinds[random.nextInt(kinds.length)];
    }

    private synchronized long nextInt(int bound) {
        return random.nextInt(bound);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Fault f = next();
                injected[f.ordinal()].incrementAndGet();
                threads.submit(() -> handle(client, f));
            } catch (IOException e) {
                if (!closed) continue;
                return;
            }
        }
    }

    private void handle(Socket client, Fault f) {
        try {
            client.setTcpNoDelay(true);
            switch (f) {
                case RESET -> {
                    client.getInputStream().read(new byte[64]);
                    abort(client);
                }
                case HTTP_503, HTTP_500 -> {
                    readHead(client.getInputStream());
                    String status = f == Fault.HTTP_503 ? "503 Service Unavailable" : "500 Internal Server Error";
                    String code = f == Fault.HTTP_503 ? "SlowDown" : "InternalError";
                    String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>injected</Message></Error>";
                    OutputStream out = client.getOutputStream();
                    out.write(("HTTP/1.1 " + status + "\r\nContent-Type: application/xml\r\nContent-Length: " + body.length()
                            + "\r\nConnection: close\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    client.close();
                }
                case PASS, SLOW, CUT -> forward(client, f);
            }
        } catch (IOException e) {
            closeQuietly(client);
        }
    }

    /** Reads up to the end of the request head (a 5xx is sent before the body, as real servers may). */
    private static void readHead(InputStream in) throws IOException {
        int state = 0;
        for (int b; (b = in.read()) >= 0; ) {
            state = (b == '\r' && (state == 0 || state == 2)) ? state + 1 : (b == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) return;
        }
    }

    private void forward(Socket client, Fault f) throws IOException {
        Socket upstream = new Socket();
        upstream.connect(target, 5_000);
        upstream.setTcpNoDelay(true);
        threads.submit(() -> pump(client, upstream, 0));
        threads.submit(() -> pump(upstream, client, f == Fault.SLOW ? slowMillis : 0));
        if (f == Fault.CUT) {
            long after = 20 + nextInt(380);
            threads.submit(() -> {
                try {
                    Thread.sleep(after); // test infrastructure: when to cut this connection
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                abort(client);
                closeQuietly(upstream);
            });
        }
    }

    private static void pump(Socket from, Socket to, long delayFirstMillis) {
        byte[] buf = new byte[16 * 1024];
        boolean first = true;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            for (int n; (n = in.read(buf)) >= 0; ) {
                if (first && delayFirstMillis > 0) Thread.sleep(delayFirstMillis);
                first = false;
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // either side went away: close both
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void abort(Socket s) {
        try {
            s.setSoLinger(true, 0); // close with RST, not FIN
        } catch (IOException ignored) {
            // already closed
        }
        closeQuietly(s);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        threads.shutdownNow();
    }
}
