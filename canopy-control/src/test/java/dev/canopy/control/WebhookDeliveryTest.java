package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.client.WebhookListener;
import dev.canopy.client.WebhookVerifier;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Webhooks end to end on both databases, with a real receiver on 127.0.0.1 that verifies signatures and drops
 * repeats. Events come from real state changes (cancelling queued jobs writes job.cancelled to the outbox);
 * the injected clock brings retries due without sleeping.
 */
class WebhookDeliveryTest {
    @TempDir
    static Path tmp;
    static ControlFixture server;
    static ControlFixture embedded;

    @BeforeAll
    static void start() {
        server = new ControlFixture(tmp.resolve("home"), false, s -> s);
        embedded = new ControlFixture(tmp.resolve("home"), true, s -> s);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (embedded != null) embedded.close();
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Subscribes a URL; returns {id, secret}. */
    static String[] subscribe(ControlFixture f, String token, String url) {
        ControlFixture.Answer r = f.post("/v1/webhooks", token, "{\"url\":\"" + url + "\",\"event_types\":[\"job.cancelled\"]}");
        assertThat(r.status()).as(r.body()).isEqualTo(201);
        return new String[] {r.json().get("id").asText(), r.json().get("secret").asText()};
    }

    static String cancelledJob(ControlFixture f, String token) {
        String id = f.post("/v1/predictions", token, ControlFixture.predictionBody(ControlFixture.areaJson(1), null)).json().get("id").asText();
        assertThat(f.post("/v1/jobs/" + id + "/cancel", token, null).status()).isEqualTo(202);
        return id;
    }

    static List<JsonNode> deliveries(ControlFixture f, String token, String sub) {
        List<JsonNode> out = new ArrayList<>();
        f.get("/v1/deliveries?webhook=" + sub, token).json().get("items").forEach(out::add);
        return out;
    }

    @Test
    void everyEventIsDeliveredSignedOnceAfterTheReceiverWasDownForAWhile() throws Exception {
        for (ControlFixture f : List.of(server, embedded)) {
            String t = f.token("hooks-" + Long.toHexString(System.nanoTime()), Scope.PREDICT, Scope.READ);
            int port = freePort();
            String[] sub = subscribe(f, t, "http://127.0.0.1:" + port + "/hook");
            // the receiver is down: every first attempt fails
            List<String> jobs = List.of(cancelledJob(f, t), cancelledJob(f, t), cancelledJob(f, t));
            await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).size() == 3
                    && deliveries(f, t, sub[0]).stream().allMatch(d -> d.get("attempts").asInt() >= 1 && d.get("status").asText().equals("pending")));
            assertThat(deliveries(f, t, sub[0]).get(0).get("last_error").asText()).contains("Connect");

            List<WebhookVerifier.Event> processed = Collections.synchronizedList(new ArrayList<>());
            try (WebhookListener receiver = WebhookListener.start("127.0.0.1", port, sub[1], e -> {
                processed.add(e);
                return 204;
            })) {
                f.clock.advance(Duration.ofHours(1)); // the retries come due
                await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).stream().allMatch(d -> d.get("status").asText().equals("delivered")));
                assertThat(processed).hasSize(3);
                assertThat(processed).extracting(WebhookVerifier.Event::type).containsOnly("job.cancelled");
                Set<String> jobIds = new TreeSet<>();
                processed.forEach(e -> jobIds.add(e.data().get("job_id").asText()));
                assertThat(jobIds).containsExactlyInAnyOrderElementsOf(jobs);

                // a redelivery carries the same webhook-id: the receiver drops it as a repeat
                String d0 = deliveries(f, t, sub[0]).get(0).get("id").asText();
                assertThat(f.post("/v1/deliveries/" + d0 + "/redeliver", t, null).status()).isEqualTo(202);
                await().atMost(Duration.ofSeconds(30)).until(() -> f.get("/v1/deliveries/" + d0, t).json().get("attempt_log").size() >= 3);
                JsonNode log = f.get("/v1/deliveries/" + d0, t).json();
                assertThat(log.get("status").asText()).isEqualTo("delivered");
                assertThat(log.get("attempt_log").get(0).has("error")).isTrue();
                assertThat(log.get("attempt_log").get(log.get("attempt_log").size() - 1).get("status_code").asInt()).isEqualTo(200);
                assertThat(processed).as("processed once each").hasSize(3);
            }
        }
    }

    @Test
    void retryAfterIsHonouredAndGoneDisablesTheSubscription() throws Exception {
        for (ControlFixture f : List.of(server, embedded)) {
            String t = f.token("gone-" + Long.toHexString(System.nanoTime()), Scope.PREDICT, Scope.READ);
            AtomicReference<WebhookListener.Reply> reply = new AtomicReference<>(new WebhookListener.Reply(503, Map.of("Retry-After", "7200")));
            int port = freePort();
            String[] sub = subscribe(f, t, "http://127.0.0.1:" + port + "/");
            try (WebhookListener receiver = WebhookListener.startWithReplies("127.0.0.1", port, sub[1], e -> reply.get())) {
                cancelledJob(f, t);
                await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).size() == 1
                        && deliveries(f, t, sub[0]).get(0).get("attempts").asInt() == 1);
                JsonNode d = deliveries(f, t, sub[0]).get(0);
                assertThat(d.get("last_status").asInt()).isEqualTo(503);
                Instant next = Instant.parse(d.get("next_attempt_at").asText());
                assertThat(next).as("Retry-After: 7200 moves the next attempt two hours on").isAfter(f.clock.instant().plus(Duration.ofMinutes(115)));

                reply.set(WebhookListener.Reply.of(410));
                f.clock.advance(Duration.ofHours(2).plusMinutes(1));
                await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).get(0).get("status").asText().equals("disabled"));
                JsonNode s = f.get("/v1/webhooks/" + sub[0], t).json();
                assertThat(s.get("enabled").asBoolean()).isFalse();
                assertThat(s.get("disabled_reason").asText()).contains("410");
                // nothing more goes to a disabled subscription
                cancelledJob(f, t);
                Thread.sleep(500); // a few dispatcher passes
                assertThat(deliveries(f, t, sub[0])).hasSize(1);
                assertThat(f.post("/v1/deliveries/" + d.get("id").asText() + "/redeliver", t, null).code()).isEqualTo("webhook_disabled");
            }
        }
    }

    @Test
    void aDeliveryIsGivenUpOnlyAfterTheRetryWindow() throws Exception {
        ControlFixture f = server;
        String t = f.token("giveup-" + Long.toHexString(System.nanoTime()), Scope.PREDICT, Scope.READ);
        String[] sub = subscribe(f, t, "http://127.0.0.1:" + freePort() + "/");
        cancelledJob(f, t);
        await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).size() == 1 && deliveries(f, t, sub[0]).get(0).get("attempts").asInt() >= 1);
        // 25 hours on: still retrying (the window is at least 24 hours)
        f.clock.advance(Duration.ofHours(25));
        await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).get(0).get("attempts").asInt() >= 2);
        assertThat(deliveries(f, t, sub[0]).get(0).get("status").asText()).isEqualTo("pending");
        f.clock.advance(Duration.ofHours(2));
        await().atMost(Duration.ofSeconds(30)).until(() -> deliveries(f, t, sub[0]).get(0).get("status").asText().equals("failed"));
        assertThat(deliveries(f, t, sub[0]).get(0).get("last_error").asText()).startsWith("gave up after");
    }

    /** More deliveries at once than the dispatcher has sending threads: every one arrives (no sender waits on itself). */
    @Test
    void manyDeliveriesAtOnceAllArrive() throws Exception {
        ControlFixture f = embedded;
        String t = f.token("many-" + Long.toHexString(System.nanoTime()), Scope.PREDICT, Scope.READ);
        int port = freePort();
        List<String[]> subs = new ArrayList<>();
        for (int i = 0; i < 3; i++) subs.add(subscribe(f, t, "http://127.0.0.1:" + port + "/s" + i));
        List<WebhookVerifier.Event> got = Collections.synchronizedList(new ArrayList<>());
        List<WebhookListener> receivers = new ArrayList<>();
        // three subscriptions, three secrets: one receiver per secret on its own port would change the URL, so the
        // receiver here accepts any of them by trying each verifier
        try (java.io.Closeable server = multiSecretReceiver(port, subs.stream().map(x -> x[1]).toList(), got)) {
            for (int i = 0; i < 6; i++) cancelledJob(f, t);
            await().atMost(Duration.ofSeconds(60)).until(() -> got.size() >= 18);
            assertThat(got.stream().map(WebhookVerifier.Event::id).distinct().count()).isEqualTo(18);
        }
    }

    /** A receiver verifying with any of several secrets (one per subscription), on one port. */
    static java.io.Closeable multiSecretReceiver(int port, List<String> secrets, List<WebhookVerifier.Event> into) throws Exception {
        com.sun.net.httpserver.HttpServer s = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", port), 64);
        s.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(8));
        s.createContext("/", ex -> {
            try (ex) {
                String body = new String(ex.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                // slow receivers keep every sender busy at once
                Thread.sleep(300);
                for (String secret : secrets) {
                    try {
                        into.add(new WebhookVerifier(secret).verify(body, ex.getRequestHeaders()));
                        ex.sendResponseHeaders(200, -1);
                        return;
                    } catch (WebhookVerifier.Invalid wrongSecret) {
                        // try the next one
                    }
                }
                ex.sendResponseHeaders(401, -1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        s.start();
        return () -> s.stop(0);
    }
}
