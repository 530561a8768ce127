package dev.canopy.storage;

import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * How to reach S3 or an S3-compatible server. Credentials come from the AWS SDK's standard chain
 * (environment, system properties, profile, instance role) unless given explicitly.
 *
 * <p>Environment (or system properties of the same names): {@code CANOPY_S3_ENDPOINT}, {@code CANOPY_S3_PATH_STYLE}, {@code AWS_REGION},
 * {@code CANOPY_S3_MAX_CONCURRENCY}, {@code CANOPY_S3_MAX_ATTEMPTS}.
 */
public record S3Settings(URI endpoint, String region, boolean pathStyle, String accessKey, String secretKey,
                         int maxConcurrency, int maxAttempts, Duration apiCallTimeout) {
    public static final String DEFAULT_REGION = "us-east-1";
    public static final int DEFAULT_MAX_CONCURRENCY = 64;
    public static final int DEFAULT_MAX_ATTEMPTS = 5;
    public static final Duration DEFAULT_API_CALL_TIMEOUT = Duration.ofMinutes(5);

    public static S3Settings defaults() {
        return new S3Settings(null, DEFAULT_REGION, false, null, null, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_ATTEMPTS,
                DEFAULT_API_CALL_TIMEOUT);
    }

    /** Environment variables, then the same names as system properties ({@code -DCANOPY_S3_ENDPOINT=...}), which win. */
    public static S3Settings fromEnvironment() {
        java.util.Map<String, String> m = new java.util.HashMap<>(System.getenv());
        for (String k : new String[] {"CANOPY_S3_ENDPOINT", "CANOPY_S3_PATH_STYLE", "AWS_REGION", "CANOPY_S3_MAX_CONCURRENCY", "CANOPY_S3_MAX_ATTEMPTS"}) {
            String v = System.getProperty(k);
            if (v != null) m.put(k, v);
        }
        return fromEnvironment(m);
    }

    static S3Settings fromEnvironment(Map<String, String> env) {
        S3Settings s = defaults();
        String endpoint = env.get("CANOPY_S3_ENDPOINT");
        if (endpoint != null && !endpoint.isBlank()) s = s.withEndpoint(URI.create(endpoint)).withPathStyle(true);
        String path = env.get("CANOPY_S3_PATH_STYLE");
        if (path != null && !path.isBlank()) s = s.withPathStyle(Boolean.parseBoolean(path));
        String region = env.getOrDefault("AWS_REGION", env.get("AWS_DEFAULT_REGION"));
        if (region != null && !region.isBlank()) s = s.withRegion(region);
        String conc = env.get("CANOPY_S3_MAX_CONCURRENCY");
        if (conc != null && !conc.isBlank()) s = s.withMaxConcurrency(Integer.parseInt(conc));
        String attempts = env.get("CANOPY_S3_MAX_ATTEMPTS");
        if (attempts != null && !attempts.isBlank()) s = s.withMaxAttempts(Integer.parseInt(attempts));
        return s;
    }

    public S3Settings withEndpoint(URI e) { return new S3Settings(e, region, pathStyle, accessKey, secretKey, maxConcurrency, maxAttempts, apiCallTimeout); }
    public S3Settings withRegion(String r) { return new S3Settings(endpoint, r, pathStyle, accessKey, secretKey, maxConcurrency, maxAttempts, apiCallTimeout); }
    public S3Settings withPathStyle(boolean p) { return new S3Settings(endpoint, region, p, accessKey, secretKey, maxConcurrency, maxAttempts, apiCallTimeout); }
    public S3Settings withCredentials(String a, String s) { return new S3Settings(endpoint, region, pathStyle, a, s, maxConcurrency, maxAttempts, apiCallTimeout); }
    public S3Settings withMaxConcurrency(int c) {
        if (c < 1) throw new IllegalArgumentException("maxConcurrency must be >= 1, got " + c);
        return new S3Settings(endpoint, region, pathStyle, accessKey, secretKey, c, maxAttempts, apiCallTimeout);
    }
    public S3Settings withMaxAttempts(int a) {
        if (a < 1) throw new IllegalArgumentException("maxAttempts must be >= 1, got " + a);
        return new S3Settings(endpoint, region, pathStyle, accessKey, secretKey, maxConcurrency, a, apiCallTimeout);
    }
    public S3Settings withApiCallTimeout(Duration t) { return new S3Settings(endpoint, region, pathStyle, accessKey, secretKey, maxConcurrency, maxAttempts, t); }
}
