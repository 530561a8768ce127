package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.S3ObjectStore;
import dev.canopy.storage.S3Settings;
import dev.canopy.testkit.FaultProxy;
import dev.canopy.testkit.S3ProxyServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command that touches S3 goes through a TCP proxy that resets connections, answers 500/503,
 * delays first bytes and cuts connections mid-stream. Each command either survives (retries) or
 * fails with a clear storage error and then resumes cleanly; the inference output holds every id
 * exactly once.
 */
class S3FaultsTest {
    @TempDir
    static Path tmp;
    static S3ProxyServer s3;
    static FaultProxy proxy;
    static final String[] PROPS = {"CANOPY_S3_ENDPOINT", "CANOPY_S3_PATH_STYLE", "CANOPY_S3_MAX_ATTEMPTS", "aws.accessKeyId", "aws.secretAccessKey",
            "aws.region"};
    static final String[] saved = new String[PROPS.length];

    @BeforeAll
    static void setUp() throws Exception {
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        s3.createBucket("canopy");
        proxy = FaultProxy.start(s3.endpoint(), 11, 0.3, 300);
        for (int i = 0; i < PROPS.length; i++) saved[i] = System.getProperty(PROPS[i]);
        System.setProperty("CANOPY_S3_ENDPOINT", proxy.endpoint().toString());
        System.setProperty("CANOPY_S3_PATH_STYLE", "true");
        System.setProperty("CANOPY_S3_MAX_ATTEMPTS", "8");
        System.setProperty("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
        System.setProperty("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
        System.setProperty("aws.region", "us-east-1");
    }

    @AfterAll
    static void tearDown() {
        for (int i = 0; i < PROPS.length; i++) {
            if (saved[i] == null) System.clearProperty(PROPS[i]);
            else System.setProperty(PROPS[i], saved[i]);
        }
        if (proxy != null) proxy.close();
        if (s3 != null) s3.close();
    }

    static MainTest.Result cli(String... args) {
        return MainTest.runIn(tmp.resolve("home"), args);
    }

    /** Runs a command; if the faults beat the retries, it must say so clearly and the resume command must finish the job. */
    static void survives(String[] command, String[] resume) {
        MainTest.Result r = cli(command);
        if (r.code() != 0) {
            assertThat(r.err()).as("a failure under faults names the storage problem").contains("storage");
            MainTest.Result again = cli(resume);
            assertThat(again.code()).as(again.err()).isZero();
        }
    }

    @Test
    void surveyTrainTuneAndInferSurviveAFaultyNetwork() throws Exception {
        Path space = tmp.resolve("space.yaml");
        Files.writeString(space, "learning_rate: {loguniform: [0.001, 0.01]}\n");
        MainTest.Result gen = cli("survey", "generate", "--out", "s3://canopy/survey", "--tiles", "150", "--tile-size", "32", "--seed", "4");
        assertThat(gen.code()).as(gen.err()).isZero();

        survives(new String[] {"train", "--survey", "s3://canopy/survey", "--epochs", "2", "--input-size", "32", "--run", "s3://canopy/runs/t1",
                "--no-register"}, new String[] {"train", "--resume", "s3://canopy/runs/t1", "--no-register"});
        try (ObjectStore direct = new S3ObjectStore(URI.create("s3://canopy/runs/t1"), settings())) {
            assertThat(new String(direct.get("metrics.jsonl")).lines()).hasSize(2);
        }

        survives(new String[] {"tune", "--survey", "s3://canopy/survey", "--space", space.toString(), "--samples", "2", "--max-t", "2",
                "--input-size", "32", "--dir", "s3://canopy/tune/e1", "--name", "tuned"}, new String[] {"tune", "--resume", "s3://canopy/tune/e1",
                "--name", "tuned"});
        assertThat(cli("model", "show", "tuned").code()).isZero();

        survives(new String[] {"infer", "--model", "tuned", "--survey", "s3://canopy/survey", "--out", "s3://canopy/jobs/p", "--rows-per-shard", "30"},
                new String[] {"infer", "--model", "tuned", "--survey", "s3://canopy/survey", "--out", "s3://canopy/jobs/p", "--rows-per-shard", "30",
                        "--resume"});
        Path local = tmp.resolve("shards");
        try (ObjectStore direct = new S3ObjectStore(URI.create("s3://canopy/jobs/p"), settings())) {
            assertThat(direct.exists("_SUCCESS")).isTrue();
            for (ObjectInfo o : (Iterable<ObjectInfo>) direct.listAll("shards/")::iterator) direct.download(o.key(), local.resolve(o.key()));
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement();
             ResultSet r = st.executeQuery("SELECT count(*), count(DISTINCT id), sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) FROM read_parquet('"
                     + local.resolve("shards") + "/*.parquet')")) {
            r.next();
            assertThat(r.getLong(1)).as("rows").isEqualTo(150);
            assertThat(r.getLong(2)).as("distinct ids").isEqualTo(150);
            assertThat(r.getLong(3)).as("ok rows (retries absorbed the faults)").isEqualTo(150);
        }
        // the faults really happened, of every kind
        assertThat(proxy.faults()).isGreaterThanOrEqualTo(10);
        for (FaultProxy.Fault f : FaultProxy.Fault.values()) assertThat(proxy.injected(f)).as(f.name()).isPositive();
    }

    static S3Settings settings() {
        return S3Settings.defaults().withEndpoint(s3.endpoint()).withPathStyle(true).withCredentials(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY);
    }
}
