package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.auth.TokenVerifier.Scope;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Over its rate a token gets 429 with Retry-After; another token is not slowed by it. */
class RateLimitHttpTest {
    @TempDir
    Path tmp;

    @Test
    void aTokenOverItsRateIsToldWhenToComeBack() throws Exception {
        try (ControlFixture f = new ControlFixture(tmp.resolve("home"), false, s -> s.withRateLimit(2))) {
            String busy = f.token("busy", Scope.READ);
            int refused = 0;
            ControlFixture.Answer last = null;
            for (int i = 0; i < 12; i++) {
                ControlFixture.Answer a = f.get("/v1/jobs", busy);
                if (a.status() == 429) {
                    refused++;
                    last = a;
                }
            }
            assertThat(refused).isGreaterThan(0);
            assertThat(last.code()).isEqualTo("rate_limited");
            assertThat(last.headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Integer.parseInt(v)).isPositive());
            assertThat(f.get("/v1/jobs", f.token("calm", Scope.READ)).status()).isEqualTo(200);
        }
    }
}
