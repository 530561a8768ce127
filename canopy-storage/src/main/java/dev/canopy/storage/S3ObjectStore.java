package dev.canopy.storage;

import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3AsyncClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ObjectStore} over S3 or any S3-compatible server, built on the SDK's async client:
 * the Netty client bounds in-flight requests ({@link S3Settings#maxConcurrency()}, further
 * requests wait for a connection) and the standard retry strategy retries 5xx, throttling and
 * I/O errors with exponential backoff and jitter.
 */
public final class S3ObjectStore implements ObjectStore {
    private final S3AsyncClient client;
    private final String bucket;
    private final String basePrefix; // "" or "some/prefix/"
    private final URI root;

    public S3ObjectStore(URI root, S3Settings settings) {
        if (!"s3".equals(root.getScheme()) || root.getHost() == null) {
            throw new IllegalArgumentException("not an s3://bucket[/prefix] URI: " + root);
        }
        this.bucket = root.getHost();
        String p = root.getPath() == null ? "" : root.getPath();
        while (p.startsWith("/")) p = p.substring(1);
        while (p.endsWith("/")) p = p.substring(0, p.length() - 1);
        this.basePrefix = p.isEmpty() ? "" : p + "/";
        this.root = URI.create("s3://" + bucket + (p.isEmpty() ? "" : "/" + p));
        this.client = buildClient(settings);
    }

    static S3AsyncClient buildClient(S3Settings s) {
        AwsCredentialsProvider creds = s.accessKey() != null
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey()))
                : DefaultCredentialsProvider.builder().build();
        S3AsyncClientBuilder b = S3AsyncClient.builder()
                .httpClientBuilder(NettyNioAsyncHttpClient.builder()
                        .maxConcurrency(s.maxConcurrency())
                        .maxPendingConnectionAcquires(100_000)
                        .connectionAcquisitionTimeout(Duration.ofMinutes(10)))
                .region(Region.of(s.region()))
                .forcePathStyle(s.pathStyle())
                .credentialsProvider(creds)
                .overrideConfiguration(o -> o
                        .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(s.maxAttempts()).build())
                        .apiCallTimeout(s.apiCallTimeout()));
        if (s.endpoint() != null) b.endpointOverride(s.endpoint());
        return b.build();
    }

    @Override
    public URI root() {
        return root;
    }

    private String fullKey(String key) {
        return basePrefix + Keys.check(key);
    }

    @Override
    public byte[] get(String key) {
        return join(key, getAsync(key));
    }

    @Override
    public CompletableFuture<byte[]> getAsync(String key) {
        String k = fullKey(key);
        return client.getObject(GetObjectRequest.builder().bucket(bucket).key(k).build(), AsyncResponseTransformer.toBytes())
                .thenApply(ResponseBytes::asByteArray)
                .exceptionally(t -> {
                    throw translate(key, t);
                });
    }

    /**
     * A ranged GET of at most {@code maxBytes + 1} bytes: one more than allowed proves the object too large. The limit is capped at what
     * one Java array holds: S3Proxy answers 400 to a range ending at {@code Long.MAX_VALUE}.
     */
    @Override
    public CompletableFuture<byte[]> getAsync(String key, long maxBytes) {
        String k = fullKey(key);
        long limit = Math.min(maxBytes, Integer.MAX_VALUE - 9L);
        return client.getObject(GetObjectRequest.builder().bucket(bucket).key(k).range("bytes=0-" + limit).build(), AsyncResponseTransformer.toBytes())
                .thenApply(r -> {
                    byte[] b = r.asByteArray();
                    if (b.length > limit) throw new StorageException.TooLarge(root + "/" + key, limit);
                    return b;
                })
                .exceptionally(t -> {
                    Throwable c = t;
                    while (c instanceof CompletionException && c.getCause() != null) c = c.getCause();
                    if (c instanceof S3Exception s3 && s3.statusCode() == 416) return new byte[0]; // an empty object has no byte 0
                    throw translate(key, t);
                });
    }

    @Override
    public InputStream openStream(String key, long offset, long length) {
        GetObjectRequest.Builder req = GetObjectRequest.builder().bucket(bucket).key(fullKey(key));
        if (offset > 0 || length >= 0) {
            req.range("bytes=" + offset + "-" + (length >= 0 ? String.valueOf(offset + length - 1) : ""));
        }
        if (length == 0) return InputStream.nullInputStream();
        return join(key, client.getObject(req.build(), AsyncResponseTransformer.toBlockingInputStream()));
    }

    @Override
    public void put(String key, byte[] data) {
        join(key, client.putObject(b -> b.bucket(bucket).key(fullKey(key)), AsyncRequestBody.fromBytes(data)));
    }

    @Override
    public void put(String key, Path file) {
        join(key, client.putObject(b -> b.bucket(bucket).key(fullKey(key)), AsyncRequestBody.fromFile(file)));
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) {
        for (int attempt = 1; ; attempt++) {
            try {
                client.putObject(b -> b.bucket(bucket).key(fullKey(key)).ifNoneMatch("*"), AsyncRequestBody.fromBytes(data)).get();
                return true;
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof S3Exception s3 && s3.statusCode() == 412) return holds(key, data);
                // 409: a conflicting conditional write is in progress; wait for it to settle, then ask again
                if (c instanceof S3Exception s3 && s3.statusCode() == 409 && attempt < 8) {
                    sleepBackoff(attempt);
                    continue;
                }
                if (c instanceof S3Exception s3 && s3.statusCode() == 409) return holds(key, data);
                throw translate(key, c);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException.Transient(uri(key).toString(), e);
            }
        }
    }

    private static void sleepBackoff(int attempt) {
        try {
            Thread.sleep(Math.min(2_000, 25L << attempt)); // backoff between conflicting conditional writes
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** True if the object at {@code key} is exactly {@code data}: our own earlier write. */
    private boolean holds(String key, byte[] data) {
        try {
            return java.util.Arrays.equals(get(key), data);
        } catch (StorageException.NotFound gone) {
            return false; // deleted since: someone else's object was there
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) {
        try {
            HeadObjectResponse r = client.headObject(b -> b.bucket(bucket).key(fullKey(key))).get();
            return Optional.of(new ObjectInfo(key, r.contentLength(), r.lastModified()));
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof NoSuchKeyException || (c instanceof S3Exception s3 && s3.statusCode() == 404)) return Optional.empty();
            throw translate(key, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException.Transient(uri(key).toString(), e);
        }
    }

    @Override
    public void delete(String key) {
        join(key, client.deleteObject(b -> b.bucket(bucket).key(fullKey(key))));
    }

    @Override
    public ListPage list(String prefix, String token, int maxKeys) {
        String pre = basePrefix + Keys.checkPrefix(prefix);
        ListObjectsV2Request.Builder req = ListObjectsV2Request.builder().bucket(bucket).prefix(pre).maxKeys(maxKeys);
        if (token != null) req.continuationToken(token);
        ListObjectsV2Response r = join(prefix, client.listObjectsV2(req.build()));
        List<ObjectInfo> out = new ArrayList<>(r.contents().size());
        for (S3Object o : r.contents()) {
            out.add(new ObjectInfo(o.key().substring(basePrefix.length()), o.size(), o.lastModified()));
        }
        return new ListPage(out, Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null);
    }

    @Override
    public void close() {
        client.close();
    }

    private <T> T join(String key, CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            throw translate(key, e.getCause());
        }
    }

    private StorageException translate(String key, Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) t = t.getCause();
        if (t instanceof StorageException se) return se;
        String u = root + "/" + key;
        if (t instanceof NoSuchKeyException) return new StorageException.NotFound(u, t);
        if (t instanceof S3Exception s3) {
            int code = s3.statusCode();
            if (code == 404) return new StorageException.NotFound(u, t);
            if (code == 403 || code == 401) return new StorageException.AccessDenied(u, t);
            if (code >= 400 && code < 500 && code != 408 && code != 429) {
                return new StorageException("storage.rejected", "S3 rejected the request for " + u + ": " + s3.awsErrorDetails().errorMessage(),
                        "check the bucket name and request", t);
            }
        }
        if (t instanceof SdkClientException || t instanceof S3Exception || t instanceof java.io.IOException) {
            return new StorageException.Transient(u, t);
        }
        return new StorageException.Transient(u, t);
    }
}
