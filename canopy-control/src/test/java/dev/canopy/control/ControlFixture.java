package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.EnumSet;

/**
 * A control-plane server on a real database (the PostgreSQL server of this machine in a schema of its own,
 * or the embedded default), with a Canopy home holding a small generated survey ("demo") and a registered
 * model ("weeds", untrained). Jobs are not started ({@code maxRunningJobs} 0) unless a test asks: this
 * module's tests have no driver on their class path; canopy-cli's tests run real drivers.
 */
final class ControlFixture implements AutoCloseable {
    static final String SERVER_URL = "jdbc:postgresql://127.0.0.1:5432/test";
    static {
        // as canopy server has it before any HTTP client loads: webhooks to a pinned address keep their Host header
        System.setProperty("jdk.httpclient.allowRestrictedHeaders", "host");
    }

    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    final Path home;
    final Database db;
    final String schema;
    final MutableClock clock = new MutableClock();
    final DbTokens tokens;
    final ModelRegistry registry;
    final ControlServer server;
    final String base;

    /** Generates the home's survey and model once per folder. */
    static void prepareHome(Path home) {
        if (java.nio.file.Files.exists(home.resolve("surveys/demo/manifest/_index.json"))) return;
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(home.resolve("surveys/demo"))) {
            g.generate(SurveySpec.of(24, 64, 7), out, dev.canopy.api.ProgressListener.NONE);
        }
        ModelRegistry r = new ModelRegistry(new FileObjectStore(home.resolve("registry")), home.resolve("cache"), java.time.Clock.systemUTC());
        r.registerUntrained("weeds", Architecture.SMALL_CNN, 32, 1);
        r.promote("weeds", 1, "production");
    }

    ControlFixture(Path home, boolean embedded, java.util.function.UnaryOperator<ControlSettings> tune) {
        prepareHome(home);
        this.home = home;
        if (embedded) {
            this.schema = null;
            this.db = Database.embedded(home.resolve("db-" + Long.toHexString(System.nanoTime())));
        } else {
            this.schema = "canopy_test_" + Long.toHexString(System.nanoTime());
            this.db = Database.connect(SERVER_URL, System.getProperty("user.name"), null, schema);
        }
        this.tokens = new DbTokens(db.dataSource(), clock);
        this.registry = new ModelRegistry(new FileObjectStore(home.resolve("registry")), home.resolve("cache"), clock);
        ControlSettings st = ControlSettings.defaults(home).withPort(0).withMaxRunningJobs(0).withAllowCallbacks(java.util.List.of("127.0.0.1"))
                .withRateLimit(0).withTick(java.time.Duration.ofMillis(100));
        this.server = ControlServer.start(db.dataSource(), tokens, registry, tune.apply(st), clock);
        this.base = "http://127.0.0.1:" + server.port();
    }

    String describe() {
        return db.describe();
    }

    String token(String team, Scope... scopes) {
        return tokens.create(team, scopes.length == 0 ? EnumSet.noneOf(Scope.class) : EnumSet.copyOf(java.util.List.of(scopes)), null, "test");
    }

    record Answer(int status, String body, java.net.http.HttpHeaders headers) {
        JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (java.io.IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + body, e);
            }
        }

        String code() {
            return json().path("code").asText();
        }
    }

    Answer call(String method, String path, String token, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(java.time.Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        if (token != null) b.header("Authorization", "Bearer " + token);
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        try {
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body(), r.headers());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    Answer get(String path, String token) {
        return call("GET", path, token, null);
    }

    Answer post(String path, String token, String body, String... headers) {
        return call("POST", path, token, body, headers);
    }

    /** A small square inside the demo survey, as GeoJSON. */
    static String areaJson(double fraction) {
        double lon = SurveySpec.DEFAULT_ORIGIN_LON, lat = SurveySpec.DEFAULT_ORIGIN_LAT, d = 0.0001 * fraction;
        return String.format(java.util.Locale.ROOT, "{\"type\":\"Polygon\",\"coordinates\":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}",
                lon - d, lat - d, lon + d, lat - d, lon + d, lat + d, lon - d, lat + d, lon - d, lat - d);
    }

    static String predictionBody(String area, String callbackUrl) {
        return "{\"survey\":\"demo\",\"model\":\"weeds@production\",\"area\":" + area
                + (callbackUrl == null ? "" : ",\"callback\":{\"url\":\"" + callbackUrl + "\"}") + "}";
    }

    @Override
    public void close() throws Exception {
        try {
            server.stopDrivers();
            server.close();
        } finally {
            if (schema != null) {
                try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
                    s.execute("DROP SCHEMA " + schema + " CASCADE");
                }
            }
            db.close();
        }
    }
}
