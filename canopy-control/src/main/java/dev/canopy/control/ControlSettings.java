package dev.canopy.control;

import dev.canopy.storage.UriPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How a control-plane server runs. {@link #defaults} binds 127.0.0.1, allows survey URIs under the Canopy
 * home only and refuses callbacks to private, loopback and link-local addresses.
 *
 * @param home            the Canopy home: jobs run in {@code home/jobs/<id>}, the registry is {@code home/registry}
 * @param host            bind address
 * @param port            0 for any free port
 * @param allowUris       survey and output URIs the server may open
 * @param allowCallbacks  addresses (IPs, CIDR blocks or host names) callbacks may reach even though they are private
 * @param maxRunningJobs  drivers this server runs at once; more wait in the queue
 * @param driver          how a job's driver process is started
 * @param lease           how long a job stays claimed without a heartbeat; a server that finds it expired takes the job over
 * @param tick            how often the supervisor and the webhook dispatcher look for work
 * @param rateLimitPerSecond requests per second per token (bursts up to twice that); 0 turns the limit off
 * @param maxBodyBytes    the largest request body
 * @param webhookTimeout  how long one delivery attempt may take
 * @param webhookGiveUp   how long after the first attempt a delivery keeps being retried
 * @param httpThreads     the HTTP server's worker threads (Jetty's pool; 0: Javalin's default of 250)
 */
public record ControlSettings(Path home, String host, int port, UriPolicy allowUris, List<String> allowCallbacks, int maxRunningJobs,
                              DriverCommand driver, Duration lease, Duration tick, double rateLimitPerSecond, long maxBodyBytes,
                              Duration webhookTimeout, Duration webhookGiveUp, int httpThreads) {
    public static final long DEFAULT_MAX_BODY = 2L * 1024 * 1024;

    public static ControlSettings defaults(Path home) {
        return new ControlSettings(home, "127.0.0.1", 8790, UriPolicy.of(List.of(surveysPrefix(home)), "--allow-uris"), List.of(), 2,
                DriverCommand.sameJvm(List.of("-Xmx1g"), null), Duration.ofSeconds(15), Duration.ofMillis(500), 20, DEFAULT_MAX_BODY,
                Duration.ofSeconds(10), Duration.ofHours(26), 0);
    }

    /**
     * Surveys may be registered under the home's {@code surveys/} folder by default, never elsewhere in the home
     * (job folders hold other teams' snapshots, the registry and database are the server's).
     */
    public static String surveysPrefix(Path home) {
        String u = home.resolve("surveys").toAbsolutePath().toUri().toString();
        return u.endsWith("/") ? u : u + "/";
    }

    public ControlSettings withPort(int p) {
        return new ControlSettings(home, host, p, allowUris, allowCallbacks, maxRunningJobs, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withHost(String h) {
        return new ControlSettings(home, h, port, allowUris, allowCallbacks, maxRunningJobs, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withAllowUris(UriPolicy u) {
        return new ControlSettings(home, host, port, u, allowCallbacks, maxRunningJobs, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withAllowCallbacks(List<String> a) {
        return new ControlSettings(home, host, port, allowUris, List.copyOf(a), maxRunningJobs, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withMaxRunningJobs(int n) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, n, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withDriver(DriverCommand d) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, d, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withLease(Duration l) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, driver, l, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withTick(Duration t) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, driver, lease, t, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withRateLimit(double perSecond) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, driver, lease, tick, perSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withMaxBodyBytes(long b) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, driver, lease, tick, rateLimitPerSecond, b,
                webhookTimeout, webhookGiveUp, httpThreads);
    }

    public ControlSettings withWebhookGiveUp(Duration d) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, d, httpThreads);
    }

    public ControlSettings withHttpThreads(int n) {
        return new ControlSettings(home, host, port, allowUris, allowCallbacks, maxRunningJobs, driver, lease, tick, rateLimitPerSecond, maxBodyBytes,
                webhookTimeout, webhookGiveUp, n);
    }

    public boolean loopback() {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1");
    }
}
