package dev.canopy.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class SparkSessionsTest {
    @Test
    void executorsGetEveryS3AndAwsSettingIncludingTemporaryCredentials() {
        Map<String, String> env = Map.of("AWS_ACCESS_KEY_ID", "AK", "AWS_SECRET_ACCESS_KEY", "SK", "AWS_SESSION_TOKEN", "TOKEN",
                "AWS_PROFILE", "survey", "AWS_REGION", "eu-west-1", "CANOPY_S3_ENDPOINT", "http://s3:9000", "CANOPY_S3_MAX_ATTEMPTS", "7",
                "CANOPY_S3_FUTURE_SETTING", "x", "HOME", "/root", "PATH", "/bin");
        Properties props = new Properties();
        props.setProperty("CANOPY_S3_MAX_CONCURRENCY", "16");
        props.setProperty("CANOPY_S3_ENDPOINT", "http://override:9000");
        props.setProperty("user.home", "/root");
        Map<String, String> forwarded = SparkSessions.executorEnvironment(env, props);
        assertThat(forwarded).containsEntry("AWS_SESSION_TOKEN", "TOKEN").containsEntry("AWS_PROFILE", "survey")
                .containsEntry("AWS_REGION", "eu-west-1").containsEntry("AWS_ACCESS_KEY_ID", "AK").containsEntry("AWS_SECRET_ACCESS_KEY", "SK")
                .containsEntry("CANOPY_S3_MAX_ATTEMPTS", "7").containsEntry("CANOPY_S3_FUTURE_SETTING", "x")
                .containsEntry("CANOPY_S3_MAX_CONCURRENCY", "16").containsEntry("CANOPY_S3_ENDPOINT", "http://override:9000")
                .doesNotContainKeys("HOME", "PATH", "user.home");
    }

    @Test
    void aDriverForALoopbackClusterListensOnLoopbackToo() {
        assertThat(SparkSessions.loopbackOnly(null)).isTrue();
        assertThat(SparkSessions.loopbackOnly("local[*]")).isTrue();
        assertThat(SparkSessions.loopbackOnly("spark://127.0.0.1:7077")).isTrue();
        assertThat(SparkSessions.loopbackOnly("spark://localhost:7077")).isTrue();
        assertThat(SparkSessions.loopbackOnly("spark://10.0.0.5:7077")).isFalse();
        assertThat(SparkSessions.loopbackOnly("spark://127.0.0.1.example.org:7077")).isFalse();
    }

    @Test
    void anEmbeddedEngineListensOnLoopbackOnly() {
        org.apache.spark.sql.SparkSession spark = SparkSessions.create("local[1]", "canopy-bind-test", java.util.List.of());
        try {
            assertThat(spark.sparkContext().getConf().get("spark.driver.bindAddress")).isEqualTo("127.0.0.1");
            assertThat(spark.sparkContext().getConf().get("spark.driver.host")).isEqualTo("127.0.0.1");
            assertThat(spark.sparkContext().env().rpcEnv().address().host()).isEqualTo("127.0.0.1");
        } finally {
            spark.stop();
        }
    }
}
