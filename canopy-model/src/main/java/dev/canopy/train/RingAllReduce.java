package dev.canopy.train;

import dev.canopy.api.train.AllReduce;
import dev.canopy.api.CanopyException;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * All-reduce over a ring of TCP connections: each rank connects to the next and accepts the previous one, then a sum
 * is a reduce-scatter followed by an all-gather, each {@code n - 1} steps of one segment ({@code 1/n} of the array)
 * sent to the next rank while one is received from the previous. Each rank sends {@code 2 (n - 1) / n} times the
 * array per sum, whatever {@code n}: the traffic per worker grows with the model, not with the number of workers
 * (a tree sends {@code log n} whole arrays, a star makes rank 0 send {@code n - 1}).
 *
 * <p>Worked example, 3 ranks, array {@code [a|b|c]} cut in three segments. Reduce-scatter: in step 0 rank r sends
 * segment r and adds the segment it receives (r - 1); in step 1 it sends the segment it just summed; afterwards rank
 * r holds the full sum of segment r + 1. All-gather: each rank sends its full segment on, and copies the one it
 * receives; after two steps all ranks hold every full sum. Every full segment was summed once, on one rank, and
 * copied to the others: all ranks hold the same bits.
 *
 * <p>Connections are authenticated: the accepting rank sends a random challenge, the connecting rank answers with
 * an HMAC-SHA256 of it (and its rank) under the run's shared secret; a wrong answer closes the connection. Nothing
 * else listens: the listener accepts exactly one connection.
 *
 * <p>Use: {@link #listen} on each rank, exchange {@link Listener#address()}es (Spark's {@code
 * BarrierTaskContext.allGather}), then {@link #join}. One thread drives a ring; a failed peer makes every call fail.
 */
public final class RingAllReduce implements AllReduce {
    private static final byte[] LABEL = "canopy-allreduce-v1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private final int rank;
    private final int size;
    private final Socket toNext;
    private final Socket fromPrevious;
    private final DataOutputStream out;
    private final DataInputStream in;
    private final ExecutorService sender;
    private long bytesSent;
    private byte[] sendBuffer = new byte[0];
    private byte[] receiveBuffer = new byte[0];

    private RingAllReduce(int rank, int size, Socket toNext, Socket fromPrevious) throws IOException {
        this.rank = rank;
        this.size = size;
        this.toNext = toNext;
        this.fromPrevious = fromPrevious;
        this.out = new DataOutputStream(new java.io.BufferedOutputStream(toNext.getOutputStream(), 1 << 16));
        this.in = new DataInputStream(new java.io.BufferedInputStream(fromPrevious.getInputStream(), 1 << 16));
        this.sender = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "canopy-allreduce-send-" + rank);
            t.setDaemon(true);
            return t;
        });
    }

    /** A rank's listening socket, opened before the addresses are exchanged. */
    public static final class Listener implements AutoCloseable {
        private final ServerSocket socket;
        private final String host;

        private Listener(ServerSocket socket, String host) {
            this.socket = socket;
            this.host = host;
        }

        /** {@code host:port}, for the other ranks to connect to. */
        public String address() {
            return host + ":" + socket.getLocalPort();
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /** Opens this rank's listener on {@code host} (the address the other ranks reach it at), on a free port. */
    public static Listener listen(String host) {
        try {
            ServerSocket s = new ServerSocket();
            s.bind(new InetSocketAddress(InetAddress.getByName(host), 0), 1);
            return new Listener(s, host);
        } catch (IOException e) {
            throw new CanopyException("train.allreduce_listen", "cannot listen on " + host + " for the all-reduce: " + e.getMessage(),
                    "give an address of this machine the other workers reach", e);
        }
    }

    /**
     * Joins the ring: connects to the next rank's address and accepts the previous rank on {@code listener} (closed
     * afterwards), both authenticated with {@code secret}, within {@code timeout}. {@code addresses} are every rank's
     * {@link Listener#address()}, by rank.
     */
    public static RingAllReduce join(Listener listener, int rank, List<String> addresses, byte[] secret, Duration timeout) {
        int n = addresses.size();
        if (rank < 0 || rank >= n) throw new IllegalArgumentException("rank " + rank + " of " + n);
        if (n < 2) throw new IllegalArgumentException("a ring needs two ranks or more; use AllReduce.single() for one");
        if (secret == null || secret.length < 16) throw new IllegalArgumentException("the all-reduce secret must be 16 bytes or more");
        long deadline = System.nanoTime() + timeout.toNanos();
        CompletableFuture<Socket> next = CompletableFuture.supplyAsync(() -> connect(addresses.get((rank + 1) % n), rank, secret, deadline));
        Socket previous = null;
        try {
            previous = accept(listener, (rank - 1 + n) % n, secret, deadline);
            Socket toNext = next.get(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), java.util.concurrent.TimeUnit.MILLISECONDS);
            int readTimeout = (int) Math.min(Integer.MAX_VALUE, READ_TIMEOUT.toMillis());
            previous.setSoTimeout(readTimeout);
            toNext.setTcpNoDelay(true);
            return new RingAllReduce(rank, n, toNext, previous);
        } catch (Exception e) {
            next.thenAccept(RingAllReduce::closeQuietly);
            closeQuietly(previous);
            Throwable cause = e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
            if (cause instanceof CanopyException c) throw c;
            throw new CanopyException("train.allreduce_join", "rank " + rank + " could not join the all-reduce ring: " + cause,
                    "check that every worker reaches the others' addresses " + addresses + " and shares the run's secret", cause);
        } finally {
            listener.close();
        }
    }

    /**
     * How long a rank waits for the previous one in a sum: the other ranks wait in the next epoch's first sum while
     * rank 0 validates and writes its checkpoint, so that must fit. A peer that dies closes its sockets (the wait ends
     * at once), and a Spark task killed with its stage closes its ring (see SparkTraining's watchdog): this bounds only
     * a peer that hangs unseen.
     */
    static final Duration READ_TIMEOUT = Duration.ofMinutes(60);

    /** A connection that has not proved itself within this is dropped: a stranger cannot hold up the join for long. */
    static final int HANDSHAKE_MILLIS = 2_000;

    private volatile boolean closed;

    private static Socket connect(String address, int rank, byte[] secret, long deadline) {
        int colon = address.lastIndexOf(':');
        String host = address.substring(0, colon);
        int port = Integer.parseInt(address.substring(colon + 1));
        IOException last = null;
        while (System.nanoTime() < deadline) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(host, port), 2_000);
                s.setSoTimeout(10_000); // the accepting side may be slow to answer (a GC pause): only strangers get 2 s
                DataInputStream in = new DataInputStream(s.getInputStream());
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                byte[] challenge = new byte[32];
                in.readFully(challenge);
                out.writeInt(rank);
                out.write(hmac(secret, challenge, rank));
                out.flush();
                if (in.read() != 1) {
                    closeQuietly(s);
                    throw new CanopyException("train.allreduce_refused", "the all-reduce peer at " + address + " refused rank " + rank,
                            "every worker of the run must use the same secret (and one run per ring)");
                }
                s.setSoTimeout(0);
                return s;
            } catch (IOException e) {
                closeQuietly(s);
                last = e;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException i) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw new UncheckedIOException("cannot reach the next rank at " + address, last == null ? new IOException("timed out") : last);
    }

    private static Socket accept(Listener listener, int expected, byte[] secret, long deadline) throws IOException {
        while (true) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) throw new java.net.SocketTimeoutException("the previous rank did not connect in time");
            listener.socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
            Socket s = listener.socket.accept();
            try {
                s.setSoTimeout(HANDSHAKE_MILLIS);
                byte[] challenge = new byte[32];
                new SecureRandom().nextBytes(challenge);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                DataInputStream in = new DataInputStream(s.getInputStream());
                out.write(challenge);
                out.flush();
                int peer = in.readInt();
                byte[] answer = new byte[32];
                in.readFully(answer);
                if (peer == expected && MessageDigest.isEqual(answer, hmac(secret, challenge, peer))) {
                    out.write(1);
                    out.flush();
                    s.setSoTimeout(0);
                    return s;
                }
                out.write(0);
                out.flush();
            } catch (IOException e) {
                // a stranger or a broken peer: not the previous rank; keep waiting for it
            }
            closeQuietly(s);
        }
    }

    private static byte[] hmac(byte[] secret, byte[] challenge, int rank) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update(LABEL);
            mac.update(challenge);
            mac.update(ByteBuffer.allocate(4).putInt(rank).array());
            return mac.doFinal();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    @Override
    public void sum(float[] data) {
        int n = size;
        if (closed) {
            throw new CanopyException("train.allreduce_failed", "rank " + rank + " has left its ring (its task was cancelled)",
                    "nothing to do: the stage is run again from the last checkpoint");
        }
        try {
            for (int s = 0; s < n - 1; s++) exchange(data, Math.floorMod(rank - s, n), Math.floorMod(rank - s - 1, n), true);
            for (int s = 0; s < n - 1; s++) exchange(data, Math.floorMod(rank + 1 - s, n), Math.floorMod(rank - s, n), false);
        } catch (IOException e) {
            throw new CanopyException("train.allreduce_failed", "rank " + rank + " lost its ring: " + e,
                    "another worker failed or was stopped; the stage is run again from the last checkpoint", e);
        }
    }

    /** Sends segment {@code send} to the next rank while segment {@code receive} comes from the previous one. */
    private void exchange(float[] data, int send, int receive, boolean add) throws IOException {
        int sendFrom = start(send, data.length);
        int sendLength = start(send + 1, data.length) - sendFrom;
        if (sendBuffer.length < sendLength * 4) sendBuffer = new byte[sendLength * 4];
        ByteBuffer.wrap(sendBuffer).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(data, sendFrom, sendLength);
        byte[] outgoing = sendBuffer;
        Future<?> sent;
        try {
            sent = sender.submit(() -> {
                out.write(outgoing, 0, sendLength * 4);
                out.flush();
                return null;
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new IOException("the ring was closed", e);
        }
        int from = start(receive, data.length);
        int length = start(receive + 1, data.length) - from;
        if (receiveBuffer.length < length * 4) receiveBuffer = new byte[length * 4];
        in.readFully(receiveBuffer, 0, length * 4);
        java.nio.FloatBuffer incoming = ByteBuffer.wrap(receiveBuffer, 0, length * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        if (add) {
            for (int i = 0; i < length; i++) data[from + i] += incoming.get(i);
        } else {
            incoming.get(data, from, length);
        }
        long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
        try {
            while (true) { // a next rank that stopped reading, or a close that discarded the send: neither waits for ever
                try {
                    sent.get(1, java.util.concurrent.TimeUnit.SECONDS);
                    break;
                } catch (java.util.concurrent.TimeoutException e) {
                    if (closed) throw new IOException("the ring was closed");
                    if (System.nanoTime() > deadline) throw new IOException("the next rank took no data for " + READ_TIMEOUT.toMinutes() + " minutes", e);
                }
            }
        } catch (java.util.concurrent.CancellationException e) {
            throw new IOException("the ring was closed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
        bytesSent += sendLength * 4L;
    }

    /** Where segment {@code i} of {@code size} starts in an array of {@code length}: segments differ by one element at most. */
    private int start(int i, int length) {
        return (int) ((long) i * length / size);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public long bytesSent() {
        return bytesSent;
    }

    @Override
    public boolean active() {
        return !closed;
    }

    /** Closes the sockets: any sum blocked in another thread fails at once (how a cancelled task leaves its ring). */
    @Override
    public void close() {
        closed = true;
        closeQuietly(toNext); // first: a send or a read in progress fails at once
        closeQuietly(fromPrevious);
        sender.shutdownNow();
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
