package dev.canopy.control;

import com.standardwebhooks.Webhook;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers webhook events, Standard Webhooks 1.0, at least once. Every tick:
 * <ol>
 *   <li><b>fan out</b>: outbox events not yet handled become one delivery per matching enabled subscription
 *       of the event's team, plus one for the job's callback, in one transaction with the outbox rows
 *       ({@code FOR UPDATE SKIP LOCKED}, so several servers share the work without doubling it);</li>
 *   <li><b>send</b>: due deliveries are claimed (their next attempt pushed past the send timeout, so no
 *       other server sends them meanwhile) and posted on a small pool, signed with the Standard Webhooks
 *       library: {@code webhook-id} is the delivery's id on every attempt, so receivers can drop repeats.</li>
 * </ol>
 * Outcomes: 2xx delivered; 410 Gone disables the subscription; anything else (or no answer) is retried
 * with {@link Backoff} (honouring {@code Retry-After}) until {@link ControlSettings#webhookGiveUp()} after
 * the first attempt, then the delivery is failed. Redirects are not followed, and the URL is checked against
 * the {@link CallbackPolicy} again before each attempt.
 */
final class WebhookDispatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WebhookDispatcher.class);
    private static final int BATCH = 32;
    private static final int MAX_ERROR = 500;

    static {
        // lets a delivery to a pinned address carry the URL's own Host header; read once, when the JDK's HTTP client
        // first loads, so it is set here and in ControlServer before any client exists
        if (System.getProperty("jdk.httpclient.allowRestrictedHeaders") == null) System.setProperty("jdk.httpclient.allowRestrictedHeaders", "host");
    }

    private final DataSource db;
    private final Clock clock;
    private final ControlSettings settings;
    private final CallbackPolicy policy;
    private final Webhooks webhooks;
    private final HttpClient http;
    private final ScheduledExecutorService loop;
    private final ExecutorService senders;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean warnedUnpinned;

    WebhookDispatcher(DataSource db, Clock clock, ControlSettings settings, CallbackPolicy policy, Webhooks webhooks) {
        this.db = db;
        this.clock = clock;
        this.settings = settings;
        this.policy = policy;
        this.webhooks = webhooks;
        AtomicInteger n = new AtomicInteger();
        this.senders = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "canopy-webhook-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        // the client keeps its own executor: sharing the senders' pool deadlocks once every sender waits in send()
        // HTTP/1.1: an h2c upgrade would address later requests by the pinned IP (":authority"), not by the Host header
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(settings.webhookTimeout()).build();
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "canopy-webhook-dispatcher");
            t.setDaemon(true);
            return t;
        });
    }

    void start() {
        loop.scheduleWithFixedDelay(this::tick, 0, Math.min(200, settings.tick().toMillis()), TimeUnit.MILLISECONDS);
    }

    void tick() {
        try {
            fanOut();
            // at most BATCH in flight: a slow receiver must not pile up claims
            int room = BATCH - inFlight.get();
            for (Claimed d : claimDue(room)) {
                inFlight.incrementAndGet();
                senders.execute(() -> {
                    try {
                        send(d);
                    } catch (RuntimeException e) {
                        LOG.warn("delivery {} failed to record: {}", d.id, e.toString());
                    } finally {
                        inFlight.decrementAndGet();
                    }
                });
            }
        } catch (RuntimeException e) {
            LOG.warn("webhook dispatcher pass failed (retrying): {}", e.toString());
        }
    }

    private void fanOut() {
        Instant now = clock.instant();
        Sql.tx(db, "fan out webhook events", c -> {
            record Event(String id, String type, String team, String jobId) { }
            List<Event> events = Sql.query(c, "SELECT event_id, type, team, job_id FROM outbox WHERE NOT fanned_out ORDER BY seq LIMIT 200 "
                    + "FOR UPDATE SKIP LOCKED", r -> new Event(r.getString(1), r.getString(2), r.getString(3), r.getString(4)));
            for (Event e : events) {
                Sql.update(c, "INSERT INTO deliveries (id, event_id, team, target, subscription_id, url, status, next_attempt_at, created_at) "
                        + "SELECT 'msg_' || substr(md5(random()::text || s.id || ?), 1, 16), ?, s.team, s.id, s.id, s.url, 'pending', ?, ? "
                        + "FROM webhook_subscriptions s WHERE s.team = ? AND s.enabled AND (? = ANY(s.event_types) OR '*' = ANY(s.event_types)) "
                        + "ON CONFLICT (event_id, target) DO NOTHING", e.id, e.id, now, now, e.team, e.type);
                if (e.jobId != null) {
                    Sql.update(c, "INSERT INTO deliveries (id, event_id, team, target, url, status, next_attempt_at, created_at) "
                            + "SELECT ?, ?, ?, 'callback', cb.url, 'pending', ?, ? FROM job_callbacks cb WHERE cb.job_id = ? "
                            + "ON CONFLICT (event_id, target) DO NOTHING", Ids.next("msg"), e.id, e.team, now, now, e.jobId);
                }
                Sql.update(c, "UPDATE outbox SET fanned_out = true WHERE event_id = ?", e.id);
            }
            return events.size();
        });
    }

    private record Claimed(String id, String url, String body, String secret, String subscriptionId, int attempts, Instant firstAttemptAt) { }

    private List<Claimed> claimDue(int n) {
        if (n <= 0) return List.of();
        Instant now = clock.instant();
        Instant claimUntil = now.plus(settings.webhookTimeout().multipliedBy(3));
        return Sql.tx(db, "claim due deliveries", c -> Sql.query(c,
                "WITH due AS (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ? "
                        + "FOR UPDATE SKIP LOCKED), "
                        + "upd AS (UPDATE deliveries d SET next_attempt_at = ? FROM due WHERE d.id = due.id RETURNING d.*) "
                        + "SELECT upd.id, upd.url, o.payload::text AS body, COALESCE(s.secret, cb.secret) AS secret, upd.subscription_id, upd.attempts, "
                        + "upd.first_attempt_at FROM upd JOIN outbox o ON o.event_id = upd.event_id "
                        + "LEFT JOIN webhook_subscriptions s ON s.id = upd.subscription_id LEFT JOIN job_callbacks cb ON cb.job_id = o.job_id",
                r -> new Claimed(r.getString("id"), r.getString("url"), r.getString("body"), r.getString("secret"), r.getString("subscription_id"),
                        r.getInt("attempts"), Sql.instant(r, "first_attempt_at")), now, n, claimUntil));
    }

    private void send(Claimed d) {
        Instant started = clock.instant();
        long t0 = System.nanoTime();
        Integer status = null;
        String error = null;
        Duration retryAfter = null;
        try {
            // checked again now (the name may resolve elsewhere than at registration) and, for http, sent to the
            // very address that was checked, so a name re-pointed in between (DNS rebinding) cannot redirect the request
            CallbackPolicy.Target target = policy.resolve(d.url);
            URI url = target.pinned();
            // the receiver checks this against its own wall clock (5 minutes of tolerance): the system's, not the scheduling clock
            long ts = Instant.now().getEpochSecond();
            String signature = new Webhook(d.secret).sign(d.id, ts, d.body);
            HttpRequest.Builder rb = HttpRequest.newBuilder(url);
            if (target.hostHeader() != null) {
                try {
                    rb.header("Host", target.hostHeader());
                } catch (IllegalArgumentException restricted) {
                    // this JVM's HTTP client loaded before the property was set: send by name (checked a moment ago)
                    if (!warnedUnpinned) LOG.warn("webhooks go out by host name, not pinned to the checked address: the JDK HTTP client was loaded "
                            + "before jdk.httpclient.allowRestrictedHeaders=host could be set (set it on the command line)");
                    warnedUnpinned = true;
                    rb = HttpRequest.newBuilder(policy.check(d.url));
                }
            }
            HttpRequest req = rb.timeout(settings.webhookTimeout())
                    .header("content-type", "application/json").header("user-agent", "Canopy-Webhooks/1")
                    .header("webhook-id", d.id).header("webhook-timestamp", Long.toString(ts)).header("webhook-signature", signature)
                    .POST(HttpRequest.BodyPublishers.ofString(d.body)).build();
            HttpResponse<Void> resp = http.send(req, HttpResponse.BodyHandlers.discarding());
            status = resp.statusCode();
            retryAfter = Backoff.parseRetryAfter(resp.headers().firstValue("retry-after").orElse(null), clock.instant());
        } catch (dev.canopy.serve.ApiError refused) {
            error = refused.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error = "interrupted (server stopping)";
        } catch (Exception e) {
            error = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
        int millis = (int) ((System.nanoTime() - t0) / 1_000_000);
        record(d, started, status, error == null ? null : truncate(error), millis, retryAfter);
    }

    private void record(Claimed d, Instant at, Integer status, String error, int millis, Duration retryAfter) {
        Instant now = clock.instant();
        Instant first = d.firstAttemptAt == null ? at : d.firstAttemptAt;
        int attempts = d.attempts + 1;
        Sql.tx(db, "record a delivery attempt", c -> {
            Sql.update(c, "INSERT INTO delivery_attempts (delivery_id, at, status_code, error, millis) VALUES (?, ?, ?, ?, ?)", d.id, at, status, error, millis);
            if (status != null && status >= 200 && status < 300) {
                return Sql.update(c, "UPDATE deliveries SET status = 'delivered', attempts = ?, first_attempt_at = ?, last_status = ?, last_error = NULL, "
                        + "delivered_at = ? WHERE id = ?", attempts, first, status, now, d.id);
            }
            if (status != null && status == 410) {
                if (d.subscriptionId != null) {
                    Sql.update(c, "UPDATE webhook_subscriptions SET enabled = false, disabled_reason = ? WHERE id = ?",
                            "the receiver answered 410 Gone at " + now, d.subscriptionId);
                    Sql.update(c, "UPDATE deliveries SET status = 'disabled', last_error = 'subscription disabled: 410 Gone' "
                            + "WHERE subscription_id = ? AND status = 'pending' AND id <> ?", d.subscriptionId, d.id);
                }
                return Sql.update(c, "UPDATE deliveries SET status = 'disabled', attempts = ?, first_attempt_at = ?, last_status = 410, "
                        + "last_error = '410 Gone: the receiver asked to stop' WHERE id = ?", attempts, first, d.id);
            }
            String why = error != null ? error : "HTTP " + status;
            Duration wait = Backoff.delay(attempts, retryAfter, () -> ThreadLocalRandom.current().nextDouble());
            Instant next = now.plus(wait);
            if (next.isAfter(first.plus(settings.webhookGiveUp()))) {
                return Sql.update(c, "UPDATE deliveries SET status = 'failed', attempts = ?, first_attempt_at = ?, last_status = ?, last_error = ? "
                        + "WHERE id = ?", attempts, first, status, "gave up after " + attempts + " attempts: " + why, d.id);
            }
            return Sql.update(c, "UPDATE deliveries SET attempts = ?, first_attempt_at = ?, last_status = ?, last_error = ?, next_attempt_at = ? "
                    + "WHERE id = ? AND status = 'pending'", attempts, first, status, why, next, d.id);
        });
    }

    private static String truncate(String s) {
        return s.length() <= MAX_ERROR ? s : s.substring(0, MAX_ERROR) + "...";
    }

    @Override
    public void close() {
        loop.shutdownNow();
        senders.shutdown();
        try {
            if (!senders.awaitTermination(settings.webhookTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS)) senders.shutdownNow();
            loop.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
