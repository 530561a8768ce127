package dev.canopy.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.CanopyException;
import dev.canopy.api.ProgressListener;
import dev.canopy.batch.BatchInference;
import dev.canopy.batch.InferenceJobSpec;
import dev.canopy.batch.TilePipeline;
import dev.canopy.imagery.Area;
import dev.canopy.imagery.AreaSelection;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.api.Json;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.S3ObjectStore;
import dev.canopy.storage.S3Settings;
import dev.canopy.testkit.S3ProxyServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batch inference on Spark local[2] with S3 (S3Proxy) for the survey, the registry and the output. */
class SparkInferenceTest {
    @TempDir
    static Path tmp;
    static S3ProxyServer server;
    static S3Settings s3;
    static SparkSession spark;
    static ModelRegistry.Version model;
    static ModelRegistry registry;
    static final int TILES = 120;

    @BeforeAll
    static void setUp() throws Exception {
        server = S3ProxyServer.start(tmp.resolve("s3"));
        for (String b : List.of("surveys", "models", "out")) server.createBucket(b);
        // tasks read their S3 settings from the environment or these system properties
        System.setProperty("CANOPY_S3_ENDPOINT", server.endpoint().toString());
        System.setProperty("CANOPY_S3_PATH_STYLE", "true");
        System.setProperty("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
        System.setProperty("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
        System.setProperty("aws.region", "us-east-1");
        s3 = S3Settings.fromEnvironment();
        try (ObjectStore survey = new S3ObjectStore(URI.create("s3://surveys/site"), s3)) {
            Fixtures.survey(survey, TILES, 5);
            ObjectStore models = new S3ObjectStore(URI.create("s3://models/registry"), s3);
            registry = Fixtures.registry(models, tmp.resolve("cache"));
            model = Fixtures.model(survey.root(), models, tmp.resolve("cache"));
            // one corrupt and one missing tile: error rows, not a failed job
            survey.put("tiles/r00000c00003.jpg", new byte[] {(byte) 0xFF, (byte) 0xD8, 1, 2, 3});
            survey.delete("tiles/r00001c00000.jpg");
        }
        spark = SparkSessions.create("local[2]", "canopy-test", List.of());
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) spark.stop();
        if (server != null) server.close();
    }

    static InferenceJobSpec job(String out, String areaWkt) {
        return new InferenceJobSpec("s3://surveys/site", registry.store().root().toString(), registry.packagePrefix(model), model.ref(), areaWkt,
                out, 1, 16, 2_000, 2, TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
    }

    static Path download(String outUri, String name) throws Exception {
        Path local = tmp.resolve("dl-" + name);
        try (ObjectStore out = new S3ObjectStore(URI.create(outUri), s3)) {
            for (ObjectInfo o : (Iterable<ObjectInfo>) out.listAll("shards/")::iterator) out.download(o.key(), local.resolve(o.key()));
        }
        return local.resolve("shards");
    }

    @Test
    void everyTileOnceWithErrorRowsAndGeoParquetMetadata() throws Exception {
        BatchInference.Options opts = BatchInference.Options.defaults().withRowsPerShard(50);
        BatchInference.Summary s = BatchInference.run(job("s3://out/full", null), model.card(), null, opts, new SparkShardRunner(spark), ProgressListener.NONE);
        assertThat(s.rows()).isEqualTo(TILES);
        assertThat(s.errors()).isEqualTo(2);
        assertThat(s.shards()).isEqualTo(3);
        assertThat(s.estimatedCover().values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-3));

        Path shards = download("s3://out/full", "full");
        assertThat(Fixtures.counts(shards)).containsEntry("rows", (long) TILES).containsEntry("ids", (long) TILES)
                .containsEntry("ok", (long) TILES - 2).containsEntry("error", 2L);
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
            try (ResultSet r = st.executeQuery("SELECT id, error FROM read_parquet('" + shards + "/*.parquet') WHERE status = 'error' ORDER BY id")) {
                r.next();
                assertThat(r.getString(1)).isEqualTo("r00000c00003");
                assertThat(r.getString(2)).contains("cannot decode image").contains("r00000c00003.jpg");
                r.next();
                assertThat(r.getString(1)).isEqualTo("r00001c00000");
                assertThat(r.getString(2)).contains("not found");
            }
            try (ResultSet r = st.executeQuery("SELECT min(top_probability), max(abs(prob_native_grass + prob_invasive_weed + prob_shrub + prob_bare_soil + prob_water - 1)), "
                    + "min(bbox.xmin < bbox.xmax)::INT FROM read_parquet('" + shards + "/*.parquet') WHERE status = 'ok'")) {
                r.next();
                assertThat(r.getDouble(1)).isGreaterThan(0.2);
                assertThat(r.getDouble(2)).isLessThan(1e-4);
                assertThat(r.getInt(3)).isEqualTo(1);
            }
            try (Statement st2 = c.createStatement(); ResultSet r = st2.executeQuery("SELECT decode(value) FROM parquet_kv_metadata('" + shards
                    + "/part-00000.parquet') WHERE decode(key) = 'geo'")) {
                assertThat(r.next()).isTrue();
                JsonNode geo = Json.MAPPER.readTree(r.getString(1));
                assertThat(geo.get("version").asText()).isEqualTo("1.1.0");
                assertThat(geo.get("primary_column").asText()).isEqualTo("geometry");
                JsonNode col = geo.get("columns").get("geometry");
                assertThat(col.get("encoding").asText()).isEqualTo("WKB");
                assertThat(col.get("geometry_types").get(0).asText()).isEqualTo("Polygon");
                assertThat(col.get("crs").get("id").get("code").asText()).isEqualTo("CRS84");
                assertThat(col.get("bbox")).hasSize(4);
                assertThat(col.get("covering").get("bbox").get("xmin").get(0).asText()).isEqualTo("bbox");
            }
        }
        try (ObjectStore out = new S3ObjectStore(URI.create("s3://out/full"), s3)) {
            JsonNode summary = Json.MAPPER.readTree(out.get("summary.json"));
            assertThat(summary.get("model").asText()).isEqualTo("land-cover:1");
            assertThat(summary.get("modelProvenance").get("seed").asLong()).isEqualTo(42);
            assertThat(summary.get("stageSeconds").has("decode_ms_mean")).isTrue();
            assertThat(summary.get("modelBusyFraction").asDouble()).isBetween(0.0, 1.0);
            assertThat(out.exists("_SUCCESS")).isTrue();
        }
        // a finished job is not silently redone
        assertThatThrownBy(() -> BatchInference.run(job("s3://out/full", null), model.card(), null, opts, new SparkShardRunner(spark), ProgressListener.NONE))
                .isInstanceOf(CanopyException.class).hasMessageContaining("finished job").extracting(e -> ((CanopyException) e).fix()).asString().contains("--overwrite");
    }

    @Test
    void resumeSkipsCommittedShards() throws Exception {
        BatchInference.Options opts = BatchInference.Options.defaults().withRowsPerShard(40);
        BatchInference.run(job("s3://out/resume", null), model.card(), null, opts, new SparkShardRunner(spark), ProgressListener.NONE);
        // as if the job died before shard 1 was committed
        try (ObjectStore out = new S3ObjectStore(URI.create("s3://out/resume"), s3)) {
            out.delete("_committed/part-00001.json");
            out.delete("shards/part-00001.parquet");
            out.delete("_SUCCESS");
        }
        BatchInference.Summary s = BatchInference.run(job("s3://out/resume", null), model.card(), null, opts.withResume(true),
                new SparkShardRunner(spark), ProgressListener.NONE);
        assertThat(s.shardsSkipped()).isEqualTo(2);
        assertThat(s.rows()).isEqualTo(TILES);
        assertThat(Fixtures.counts(download("s3://out/resume", "resume"))).containsEntry("rows", (long) TILES).containsEntry("ids", (long) TILES);
        assertThatThrownBy(() -> BatchInference.run(job("s3://out/resume", null), model.card(), null,
                opts.withResume(true).withRowsPerShard(7), new SparkShardRunner(spark), ProgressListener.NONE)).hasMessageContaining("planned differently");
    }

    @Test
    void areaSelectsASubsetAndErrorLimitFailsTheJobButKeepsOutput() throws Exception {
        SurveySpec spec = SurveySpec.of(TILES, 32, 5);
        double[] a = spec.footprint(2, 2), b = spec.footprint(5, 4);
        String wkt = String.format(Locale.ROOT, "POLYGON ((%.10f %.10f, %.10f %.10f, %.10f %.10f, %.10f %.10f, %.10f %.10f))", a[0] + 1e-7, b[1] + 1e-7, b[2] - 1e-7, b[1] + 1e-7,
                b[2] - 1e-7, a[3] - 1e-7, a[0] + 1e-7, a[3] - 1e-7, a[0] + 1e-7, b[1] + 1e-7);
        Area area = Area.of(new org.locationtech.jts.io.WKTReader().read(wkt));
        long expected;
        try (ObjectStore survey = new S3ObjectStore(URI.create("s3://surveys/site"), s3); var rows = AreaSelection.select(Manifest.open(survey), area)) {
            expected = rows.count();
        }
        assertThat(expected).isEqualTo(4 * 3);
        BatchInference.Summary s = BatchInference.run(job("s3://out/area", wkt), model.card(), area.bbox(), BatchInference.Options.defaults(),
                new SparkShardRunner(spark), ProgressListener.NONE);
        assertThat(s.rows()).isEqualTo(expected);
        assertThat(Fixtures.counts(download("s3://out/area", "area"))).containsEntry("rows", expected);

        assertThatThrownBy(() -> BatchInference.run(job("s3://out/strict", null), model.card(), null,
                BatchInference.Options.defaults().withMaxErrorFraction(0.001), new SparkShardRunner(spark), ProgressListener.NONE))
                .hasMessageContaining("failed").hasMessageContaining("above the limit");
        try (ObjectStore out = new S3ObjectStore(URI.create("s3://out/strict"), s3)) {
            assertThat(out.exists("summary.json")).isTrue();
            assertThat(out.exists("_SUCCESS")).isFalse();
            assertThat(out.listAll("shards/").count()).isEqualTo(1);
        }
    }

    /**
     * Every tile fails (its one image is gone, as with bad credentials): the driver sees the error rows
     * live (accumulators through heartbeats and task ends) and cancels the job group long before the
     * 200 shards are done; the shards already committed stay.
     */
    @Test
    void aFailingJobIsCancelledEarlyAcrossTheWholeJob() throws Exception {
        Path survey = tmp.resolve("gone");
        try (dev.canopy.imagery.SurveyGenerator g = new dev.canopy.imagery.SurveyGenerator(1);
             dev.canopy.storage.FileObjectStore st = new dev.canopy.storage.FileObjectStore(survey)) {
            g.generate(SurveySpec.of(20_000, 16, 3).withDistinct(1), st, ProgressListener.NONE);
        }
        try (var files = Files.list(survey.resolve("tiles"))) {
            for (Path f : files.toList()) Files.delete(f);
        }
        Path out = tmp.resolve("gone-out");
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(model),
                model.ref(), null, out.toUri().toString(), 1, 16, 0, 2, TilePipeline.DEFAULT_MAX_IN_FLIGHT, TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES);
        assertThatThrownBy(() -> BatchInference.run(job, model.card(), null, BatchInference.Options.defaults().withRowsPerShard(100),
                new SparkShardRunner(spark), ProgressListener.NONE))
                .isInstanceOf(CanopyException.class).hasMessageContaining("stopped early");
        long committed = 0;
        if (Files.isDirectory(out.resolve("_committed"))) {
            try (var markers = Files.list(out.resolve("_committed"))) {
                for (Path m : markers.toList()) {
                    committed++;
                    assertThat(out.resolve("shards/" + m.getFileName().toString().replace(".json", ".parquet"))).exists();
                }
            }
        }
        assertThat(committed).isLessThan(200);
        assertThat(out.resolve("_SUCCESS")).doesNotExist();
        // the session is still usable after the cancel
        assertThat(org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(List.of(1, 2, 3)).count()).isEqualTo(3);
    }
}
