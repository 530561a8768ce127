package dev.canopy.client;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.ToIntFunction;

/**
 * A small webhook receiver: an HTTP server (the JDK's) that verifies every delivery with
 * {@link WebhookVerifier}, answers 401 to forgeries, drops repeats of an id it already processed
 * (answering 200, so the sender stops), and hands each new event to {@code handler} once; the
 * handler's return value is the HTTP status (2xx: processed; anything else: the sender retries, and the
 * id is not marked processed).
 * <p>Threads: the handler runs on the listener's threads, one event at a time per id.
 */
public final class WebhookListener implements AutoCloseable {
    public static final int MAX_BODY = 1024 * 1024;
    private final HttpServer http;
    private final ExecutorService threads;
    private final Set<String> processed = Collections.synchronizedSet(Collections.newSetFromMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > 100_000; // bounded memory; ids are random, older repeats are rare past this
        }
    }));

    private WebhookListener(HttpServer http, ExecutorService threads) {
        this.http = http;
        this.threads = threads;
    }

    /** A handler's answer: a status and headers (e.g. {@code Retry-After}). */
    public record Reply(int status, Map<String, String> headers) {
        public static Reply of(int status) {
            return new Reply(status, Map.of());
        }
    }

    /** Listens on {@code host:port} (port 0: any free one), verifying with {@code secret}. */
    public static WebhookListener start(String host, int port, String secret, ToIntFunction<WebhookVerifier.Event> handler) throws IOException {
        return startWithReplies(host, port, secret, e -> Reply.of(handler.applyAsInt(e)));
    }

    /** As {@link #start}, with handlers that choose headers too. */
    public static WebhookListener startWithReplies(String host, int port, String secret,
                                                   java.util.function.Function<WebhookVerifier.Event, Reply> handler) throws IOException {
        WebhookVerifier verifier = new WebhookVerifier(secret);
        HttpServer s = HttpServer.create(new InetSocketAddress(host, port), 64);
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "canopy-webhook-listener");
            t.setDaemon(true);
            return t;
        });
        WebhookListener l = new WebhookListener(s, pool);
        s.createContext("/", ex -> l.handle(ex, verifier, handler));
        s.setExecutor(pool);
        s.start();
        return l;
    }

    private void handle(HttpExchange ex, WebhookVerifier verifier, java.util.function.Function<WebhookVerifier.Event, Reply> handler) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("POST")) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readNBytes(MAX_BODY + 1);
            }
            if (body.length > MAX_BODY) {
                ex.sendResponseHeaders(413, -1);
                return;
            }
            WebhookVerifier.Event e;
            try {
                e = verifier.verify(new String(body, StandardCharsets.UTF_8), ex.getRequestHeaders());
            } catch (WebhookVerifier.Invalid bad) {
                ex.sendResponseHeaders(401, -1);
                return;
            }
            synchronized (e.id().intern()) {
                if (processed.contains(e.id())) {
                    ex.sendResponseHeaders(200, -1);
                    return;
                }
                Reply reply;
                try {
                    reply = handler.apply(e);
                } catch (RuntimeException failed) {
                    reply = Reply.of(500);
                }
                if (reply.status() >= 200 && reply.status() < 300) processed.add(e.id());
                reply.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
                ex.sendResponseHeaders(reply.status(), -1);
            }
        }
    }

    public int port() {
        return http.getAddress().getPort();
    }

    @Override
    public void close() {
        http.stop(0);
        threads.shutdownNow();
    }
}
