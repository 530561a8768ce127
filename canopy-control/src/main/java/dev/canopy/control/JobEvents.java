package dev.canopy.control;

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
    private final Jobs jobs;
    private final Map<SseClient, Follower> followers = new ConcurrentHashMap<>();
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "canopy-job-events");
        t.setDaemon(true);
        return t;
    });

    private static final class Follower {
        final String jobId;
        Map<String, Object> last;

        Follower(String jobId) {
            this.jobId = jobId;
        }
    }

    JobEvents(Jobs jobs) {
        this.jobs = jobs;
    }

    void start() {
        poller.scheduleWithFixedDelay(this::poll, 1, 1, TimeUnit.SECONDS);
    }

    void follow(SseClient client, Jobs.Job job) {
        if (followers.size() >= MAX_FOLLOWERS) throw new ApiError(429, "too_many_followers", "too many event streams are open; poll GET /v1/jobs/{id}", "5");
        client.keepAlive();
        Follower f = new Follower(job.id());
        client.onClose(() -> followers.remove(client));
        followers.put(client, f);
        push(client, f, job);
    }

    private void poll() {
        for (Map.Entry<SseClient, Follower> e : followers.entrySet()) {
            try {
                jobs.get(e.getValue().jobId).ifPresent(j -> push(e.getKey(), e.getValue(), j));
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
            followers.remove(client);
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
