package dev.canopy.cli;

import dev.canopy.serve.ModelServer;
import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.serve.ServeSettings;
import dev.canopy.serve.TokensFile;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve registry models over HTTP with dynamic batching: POST /v1/models/{name}/predict, GET /v1/models, /healthz, /readyz, /metrics.")
final class ServeCommand implements Callable<Integer> {
    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, split = ",", description = "Model(s) to load at start: NAME, NAME@STAGE or NAME:VERSION (others load on demand)")
    List<String> models;
    @Option(names = "--host", defaultValue = ServeSettings.DEFAULT_HOST, description = "Address to bind (default: ${DEFAULT-VALUE}; 0.0.0.0 for all)")
    String host;
    @Option(names = "--port", defaultValue = "" + ServeSettings.DEFAULT_PORT, description = "Port (default: ${DEFAULT-VALUE})")
    int port;
    @Option(names = "--replicas", defaultValue = "" + ServeSettings.DEFAULT_REPLICAS, description = "Model replicas (default: ${DEFAULT-VALUE})")
    int replicas;
    @Option(names = "--max-batch", defaultValue = "" + ServeSettings.DEFAULT_MAX_BATCH, description = "Largest batch (default: ${DEFAULT-VALUE})")
    int maxBatch;
    @Option(names = "--max-wait-ms", defaultValue = "0", description = "Extra wait for a batch to fill; 0: batch what queued while the model was busy (default: ${DEFAULT-VALUE})")
    long maxWaitMs;
    @Option(names = "--queue", defaultValue = "" + ServeSettings.DEFAULT_QUEUE_CAPACITY, description = "Queued images before 429 (default: ${DEFAULT-VALUE})")
    int queue;
    @Option(names = "--timeout-ms", defaultValue = "2000", description = "Per-request timeout (default: ${DEFAULT-VALUE})")
    long timeoutMs;
    @Option(names = "--max-models", defaultValue = "" + ServeSettings.DEFAULT_MAX_MODELS, description = "Models loaded at once, LRU (default: ${DEFAULT-VALUE})")
    int maxModels;
    @Option(names = "--refresh-s", defaultValue = "5", description = "How often a name is re-resolved in the registry (default: ${DEFAULT-VALUE})")
    long refreshS;
    @Option(names = "--allow-uris", description = "Comma-separated URI prefixes the JSON form {\"uris\": [...]} may read, e.g. "
            + "s3://bucket/surveys/,file:///data/ (default: none; such requests get 403)")
    String allowUris;
    @Option(names = "--tokens", description = "Tokens file (hashes only; default: serve-tokens.json in the Canopy home). "
            + "At first start a token is made and printed once")
    java.nio.file.Path tokensFile;
    @Option(names = "--no-auth", description = "No token checks; refused unless --host is a loopback address")
    boolean noAuth;
    @Option(names = "--engine", defaultValue = "auto", description = "Inference engine: auto (the faster on this host, measured once per "
            + "kind of model), pytorch or onnx (default: ${DEFAULT-VALUE})")
    String engine;

    @Override
    public Integer call() throws Exception {
        ServeSettings st = ServeSettings.defaults().withHost(host).withPort(port).withReplicas(replicas).withMaxBatch(maxBatch)
                .withMaxWaitMicros(maxWaitMs * 1000).withQueueCapacity(queue).withRequestTimeout(Duration.ofMillis(timeoutMs))
                .withMaxModels(maxModels).withRefreshInterval(Duration.ofSeconds(refreshS))
                .withAllowUris(allowUris == null ? dev.canopy.storage.UriPolicy.none(ServeSettings.ALLOW_URIS_FLAG)
                        : dev.canopy.storage.UriPolicy.parse(allowUris, "--allow-uris"))
                .withEngine(dev.canopy.model.InferenceEngine.of(engine), main.home().dir("engines"));
        String newToken = null;
        if (noAuth) {
            st = st.withNoAuth();
        } else {
            java.nio.file.Path file = tokensFile != null ? tokensFile : main.home().root().resolve("serve-tokens.json");
            newToken = TokensFile.ensureOne(file, "default", java.util.EnumSet.of(TokenVerifier.Scope.READ, TokenVerifier.Scope.PREDICT),
                    Clock.systemUTC());
            st = st.withAuth(TokensFile.load(file, Clock.systemUTC()));
        }
        ModelServer server = ModelServer.start(main.registry(), st, Clock.systemUTC(), models);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }));
        var out = spec.commandLine().getOut();
        out.printf("serving %s on http://%s:%d (POST /v1/models/{name}/predict; /metrics; Ctrl-C to stop)%n", models, host, server.port());
        if (newToken != null) {
            out.printf("a token was made for this server (shown once; its hash is kept in the tokens file):%n  %s%n"
                    + "send it as: curl -H 'Authorization: Bearer %s' ...%n", newToken, newToken);
        } else if (noAuth) {
            out.println("no token checks (--no-auth): reachable from this machine only");
        }
        out.printf("URIs readable by {\"uris\": [...]}: %s%n", st.allowUris().isEmpty() ? "none (--allow-uris to allow prefixes)" : st.allowUris().prefixes());
        out.flush();
        stopped.await();
        return 0;
    }
}
