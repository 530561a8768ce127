package dev.canopy.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.canopy.api.Json;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * The Spark clusters of a Canopy server's host, from code: the same operations as {@code canopy cluster} and
 * {@code /v1/clusters}, with the same scopes ({@code read} to look, {@code admin} to change). Each call blocks until
 * the server has done it (creating or stopping takes seconds) and answers the cluster as the server shows it:
 * {@code name, state, master, workers_alive, workers_wanted, cores, cores_used, memory_mb, memory_used_mb,
 * running_applications, uptime_seconds}. Failures are {@link CanopyClient.ApiException}s with the server's stable
 * code ({@code unknown}, {@code exists}, {@code not_running}, {@code bad_workers}, ...).
 *
 * <pre>{@code
 * Clusters clusters = new CanopyClient(URI.create("http://127.0.0.1:8790"), token).clusters();
 * clusters.create("survey", 2, 1, "1g");
 * clusters.scale("survey", 3);
 * clusters.warmPool("survey", 1, 600);
 * clusters.stop("survey");
 * }</pre>
 */
public final class Clusters {
    private final CanopyClient client;

    Clusters(CanopyClient client) {
        this.client = client;
    }

    /** Every cluster: {@code {items: [...]}}. */
    public JsonNode list() {
        return client.call("GET", "/v1/clusters", null);
    }

    public JsonNode status(String name) {
        return client.call("GET", "/v1/clusters/" + enc(name), null);
    }

    public JsonNode create(String name, int workers, int workerCores, String workerMemory) {
        ObjectNode b = Json.MAPPER.createObjectNode().put("name", name).put("workers", workers).put("worker_cores", workerCores).put("worker_memory", workerMemory);
        return client.call("POST", "/v1/clusters", b.toString());
    }

    public JsonNode scale(String name, int workers) {
        return client.call("POST", "/v1/clusters/" + enc(name) + "/scale", Json.MAPPER.createObjectNode().put("workers", workers).toString());
    }

    public JsonNode start(String name) {
        return client.call("POST", "/v1/clusters/" + enc(name) + "/start", null);
    }

    public JsonNode stop(String name) {
        return client.call("POST", "/v1/clusters/" + enc(name) + "/stop", null);
    }

    /** Stops the cluster and removes it from its host; the server keeps its record, marked deleted. */
    public void delete(String name) {
        client.call("DELETE", "/v1/clusters/" + enc(name), null);
    }

    /** Sizes the cluster's warm pool (0 empties it): started applications that take its predictions at once. */
    public JsonNode warmPool(String name, int size, int idleTimeoutSeconds) {
        return client.call("POST", "/v1/clusters/" + enc(name) + "/warm-pool",
                Json.MAPPER.createObjectNode().put("size", size).put("idle_timeout_s", idleTimeoutSeconds).toString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
