package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.standardwebhooks.Webhook;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `canopy webhook verify` accepts what the secret's holder signed and refuses anything altered, forged or stale. */
class WebhookCommandTest {
    @TempDir
    Path tmp;

    @Test
    void verifyAcceptsTheSignedDeliveryAndRefusesTampering() throws Exception {
        String secret = "whsec_" + java.util.Base64.getEncoder().encodeToString("0123456789abcdef0123456789abcdef".getBytes());
        String body = "{\"type\":\"job.succeeded\",\"timestamp\":\"2026-11-27T10:00:00Z\",\"data\":{\"job_id\":\"job_0123456789abcdef\"}}";
        long ts = System.currentTimeMillis() / 1000;
        String sig = new Webhook(secret).sign("msg_1", ts, body);
        Path file = tmp.resolve("body.json");
        Files.writeString(file, body);
        MainTest.Result ok = MainTest.run("webhook", "verify", "--secret", secret, "--body", file.toString(), "--header", "webhook-id=msg_1",
                "--header", "webhook-timestamp=" + ts, "--header", "webhook-signature=" + sig);
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("valid").contains("job.succeeded");

        Files.writeString(file, body.replace("succeeded", "failed"));
        MainTest.Result altered = MainTest.run("webhook", "verify", "--secret", secret, "--body", file.toString(), "--header", "webhook-id=msg_1",
                "--header", "webhook-timestamp=" + ts, "--header", "webhook-signature=" + sig);
        assertThat(altered.code()).isEqualTo(1);
        assertThat(altered.err()).contains("webhook refused");

        Files.writeString(file, body);
        long old = ts - 3600;
        MainTest.Result stale = MainTest.run("webhook", "verify", "--secret", secret, "--body", file.toString(), "--header", "webhook-id=msg_1",
                "--header", "webhook-timestamp=" + old, "--header", "webhook-signature=" + new Webhook(secret).sign("msg_1", old, body));
        assertThat(stale.code()).as("an hour-old delivery is a replay").isEqualTo(1);

        MainTest.Result badSecret = MainTest.run("webhook", "verify", "--secret", "hunter2", "--body", file.toString(), "--header", "webhook-id=x");
        assertThat(badSecret.code()).isNotZero();
        assertThat(badSecret.err()).contains("whsec_");
    }
}
