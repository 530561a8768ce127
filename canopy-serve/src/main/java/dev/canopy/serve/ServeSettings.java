package dev.canopy.serve;

import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.model.InferenceEngine;
import dev.canopy.storage.UriPolicy;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Server settings with named defaults. {@code allowUris}: the URI prefixes the JSON form may read
 * (default none: it answers 403). {@code auth}: the tokens /v1 requests need; a server with none is
 * refused at start unless {@code noAuth} was asked for on a loopback bind. {@code engine}: the runtime models run on (null: the
 * package's default; {@link InferenceEngine#AUTO}: the faster on this host, measured once and kept in {@code enginesDir}).
 * Settings with named defaults; {@code withX} returns a changed copy (Parquet-builder style). */
public record ServeSettings(String host, int port, int replicas, int maxBatch, long maxWaitMicros, int queueCapacity, Duration requestTimeout,
                            int maxModels, long maxBodyBytes, int maxUrisPerRequest, Duration refreshInterval, String defaultStage,
                            UriPolicy allowUris, TokenVerifier auth, boolean noAuth, InferenceEngine engine, Path enginesDir) {
    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    public static final int DEFAULT_REPLICAS = 1;
    public static final int DEFAULT_MAX_BATCH = 32;
    /** No timer by default: batches form from what queued while the model was busy, so a lone request never waits. */
    public static final long DEFAULT_MAX_WAIT_MICROS = 0;
    public static final int DEFAULT_QUEUE_CAPACITY = 256;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
    public static final int DEFAULT_MAX_MODELS = 3;
    public static final long DEFAULT_MAX_BODY_BYTES = 16L * 1024 * 1024;
    public static final int DEFAULT_MAX_URIS = 256;
    public static final Duration DEFAULT_REFRESH = Duration.ofSeconds(5);

    /** The option that sets {@link #allowUris()}, named in refusals. */
    public static final String ALLOW_URIS_FLAG = "canopy serve --allow-uris s3://bucket/prefix/,file:///data/";

    public static ServeSettings defaults() {
        return new ServeSettings(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REPLICAS, DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MICROS, DEFAULT_QUEUE_CAPACITY,
                DEFAULT_TIMEOUT, DEFAULT_MAX_MODELS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_URIS, DEFAULT_REFRESH, "production",
                UriPolicy.none(ALLOW_URIS_FLAG), null, false, null, null);
    }

    public ServeSettings withPort(int p) { return new ServeSettings(host, p, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withHost(String h) { return new ServeSettings(h, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withReplicas(int r) { return new ServeSettings(host, port, r, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withMaxBatch(int b) { return new ServeSettings(host, port, replicas, b, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withMaxWaitMicros(long w) { return new ServeSettings(host, port, replicas, maxBatch, w, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withQueueCapacity(int q) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, q, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withRequestTimeout(Duration t) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, t, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withMaxModels(int m) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, m, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withMaxBodyBytes(long b) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, b, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withRefreshInterval(Duration d) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, d, defaultStage, allowUris, auth, noAuth, engine, enginesDir); }
    public ServeSettings withAllowUris(UriPolicy p) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, p, auth, noAuth, engine, enginesDir); }
    /** Every /v1 request needs a bearer token this verifier accepts. */
    public ServeSettings withAuth(TokenVerifier v) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, v, false, engine, enginesDir); }
    /** No token checks: refused at start unless the server binds to a loopback address. */
    public ServeSettings withNoAuth() { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, null, true, engine, enginesDir); }

    /** Models run on {@code e}; AUTO measures once per host and model kind and keeps the result in {@code dir}. */
    public ServeSettings withEngine(InferenceEngine e, Path dir) { return new ServeSettings(host, port, replicas, maxBatch, maxWaitMicros, queueCapacity, requestTimeout, maxModels, maxBodyBytes, maxUrisPerRequest, refreshInterval, defaultStage, allowUris, auth, noAuth, e, dir); }

    /** True if every address the host name resolves to is a loopback address: reachable from this machine only. */
    public boolean loopback() {
        try {
            if (host == null || host.isBlank()) return false; // an empty host binds every interface
            String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
            java.net.InetAddress[] all = java.net.InetAddress.getAllByName(h);
            return all.length > 0 && java.util.Arrays.stream(all).allMatch(java.net.InetAddress::isLoopbackAddress);
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }
}
