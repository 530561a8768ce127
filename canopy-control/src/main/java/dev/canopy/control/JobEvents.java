package dev.canopy.control;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;

import dev.canopy.serve.ApiError;
import io.javalin.http.sse.SseClient;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Server-sent events of job progress. Followers of a job get a {@code job} event at once and whenever its
 * status or progress changes (checked once a second, the rate drivers write progress at), and {@code end}
 * when it finishes; then the stream closes. One thread polls for every follower; followers are bounded.
 */
final class JobEvents implements AutoCloseable {
    static final int MAX_FOLLOWERS = 256;
    static final int MAX_PER_TOKEN = 16;
    private final Map<String, java.util.concurrent.atomic.AtomicInteger> perToken = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger total = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.function.Predicate<String> stillValid;
    private long ticks;
    private final Jobs jobs;
    private final Map<SseClient, Follower> followers = new ConcurrentHashMap<>();
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "canopy-job-events");
        t.setDaemon(true);
        return t;
    });

    private static final class Follower {
        final String jobId; // null: every job the caller sees (the newest LIST_SIZE)
        String team; // for a list follower: the team whose jobs it sees, null for all
        String token;
        String bearer;
        Map<String, Object> last;
        final Map<String, Map<String, Object>> lastById = new java.util.HashMap<>();

        Follower(String jobId) {
            this.jobId = jobId;
        }
    }

    /** How many of the newest jobs a list follower hears about. */
    static final int LIST_SIZE = 50;

    /** {@code stillValid}: whether a follower's credential (as {@link #follow} got it) still grants access. */
    JobEvents(Jobs jobs, java.util.function.Predicate<String> stillValid) {
        this.jobs = jobs;
        this.stillValid = stillValid;
    }

    void start() {
        poller.scheduleWithFixedDelay(this::poll, 1, 1, TimeUnit.SECONDS);
    }

    /**
     * Reserves a stream for {@code tokenId} before it starts, or refuses (429) when the server or the token has too many
     * open; a reservation is given back by {@link #release} (if the stream never starts) or when the stream ends.
     */
    void admit(String tokenId) {
        if (total.incrementAndGet() > MAX_FOLLOWERS) {
            total.decrementAndGet();
            throw new ApiError(429, "too_many_followers", "too many event streams are open; poll GET /v1/jobs/{id}", "5");
        }
        java.util.concurrent.atomic.AtomicInteger n = perToken.computeIfAbsent(tokenId, k -> new java.util.concurrent.atomic.AtomicInteger());
        if (n.incrementAndGet() > MAX_PER_TOKEN) {
            release(tokenId);
            throw new ApiError(429, "too_many_followers", "this token has " + MAX_PER_TOKEN + " event streams open; close one or poll", "5");
        }
    }

    void release(String tokenId) {
        total.decrementAndGet();
        perToken.computeIfPresent(tokenId, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
    }

    /** Starts following; {@code credential} is re-checked at every ping, so a revoked token's (or ended session's) stream ends too. */
    void follow(SseClient client, Jobs.Job job, String tokenId, String bearer) {
        client.keepAlive();
        Follower f = new Follower(job.id());
        f.token = tokenId;
        f.bearer = bearer;
        client.onClose(() -> drop(client));
        followers.put(client, f);
        push(client, f, job);
    }

    /**
     * Follows the newest {@link #LIST_SIZE} jobs {@code team} sees (null: every team's): a {@code job} event for each
     * at once, then one whenever a job appears or its status or progress changes. The stream does not end by itself.
     */
    void followAll(SseClient client, String team, String tokenId, String bearer) {
        client.keepAlive();
        Follower f = new Follower(null);
        f.team = team;
        f.token = tokenId;
        f.bearer = bearer;
        client.onClose(() -> drop(client));
        followers.put(client, f);
        pushAll(client, f);
    }

    private void pushAll(SseClient client, Follower f) {
        pushAll(client, f, newest(f.team));
    }

    /** The newest jobs {@code team} sees (null: all), oldest first, so a client that prepends ends with the newest on top. */
    private List<Jobs.Job> newest(String team) {
        List<Jobs.Job> newest = new ArrayList<>(jobs.list(new Jobs.Filter(team, null, null, null), null, LIST_SIZE).items());
        Collections.reverse(newest);
        return newest;
    }

    private void pushAll(SseClient client, Follower f, List<Jobs.Job> newest) {
        synchronized (f) { // the request thread's first push and the poller's may overlap
            for (Jobs.Job j : newest) {
                Map<String, Object> view = JobRoutes.view(j);
                if (!Objects.equals(view, f.lastById.get(j.id()))) {
                    f.lastById.put(j.id(), view);
                    client.sendEvent("job", view);
                }
            }
            if (f.lastById.size() > 4 * LIST_SIZE) f.lastById.clear(); // bounded: a resend of unchanged jobs is harmless
        }
    }

    private void drop(SseClient client) {
        Follower f = followers.remove(client);
        if (f != null) release(f.token);
    }

    private void poll() {
        boolean ping = ++ticks % 5 == 0; // a comment every 5 s finds clients that went away (their write fails, the stream closes)
        Map<String, List<Jobs.Job>> lists = new HashMap<>(); // one query per team per tick, however many follow the list
        for (Map.Entry<SseClient, Follower> e : followers.entrySet()) {
            if (ping) {
                if (!stillValid.test(e.getValue().bearer)) { // revoked, expired or signed out since the stream began
                    drop(e.getKey());
                    e.getKey().close();
                    continue;
                }
                e.getKey().sendComment("ping");
            }
            if (e.getKey().terminated()) {
                drop(e.getKey());
                continue;
            }
            try {
                Follower f = e.getValue();
                if (f.jobId == null) pushAll(e.getKey(), f, lists.computeIfAbsent(f.team == null ? "" : "team:" + f.team, k -> newest(f.team)));
                else jobs.get(e.getValue().jobId).ifPresent(j -> push(e.getKey(), e.getValue(), j));
            } catch (RuntimeException ex) {
                // the database blinked: try again next second
            }
        }
    }

    private void push(SseClient client, Follower f, Jobs.Job j) {
        Map<String, Object> view = JobRoutes.view(j);
        if (!Objects.equals(view, f.last)) {
            f.last = view;
            client.sendEvent("job", view);
        }
        if (j.terminal()) {
            client.sendEvent("end", Map.of("id", j.id(), "status", j.status()));
            drop(client);
            client.close();
        }
    }

    @Override
    public void close() {
        poller.shutdownNow();
        for (SseClient c : followers.keySet()) c.close();
        followers.clear();
    }
}
