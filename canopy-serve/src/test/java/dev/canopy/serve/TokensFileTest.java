package dev.canopy.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.api.auth.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokensFileTest {
    @TempDir
    Path tmp;

    @Test
    void tokensAreStoredHashedVerifiedWithTheirScopesAndExpire() throws Exception {
        Path file = tmp.resolve("t.json");
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        String token = TokensFile.create(file, "team-a", EnumSet.of(TokenVerifier.Scope.PREDICT), t0.plusSeconds(60), Clock.fixed(t0, ZoneOffset.UTC));
        assertThat(token).startsWith(Tokens.PREFIX).hasSizeGreaterThan(40);
        String stored = Files.readString(file);
        assertThat(stored).doesNotContain(token).contains(Tokens.sha256(token));
        assertThat(Files.getPosixFilePermissions(file)).extracting(Object::toString).containsExactlyInAnyOrder("OWNER_READ", "OWNER_WRITE");
        TokenVerifier.Principal p = TokensFile.load(file, Clock.fixed(t0.plusSeconds(59), ZoneOffset.UTC)).verify(token).orElseThrow();
        assertThat(p.team()).isEqualTo("team-a");
        assertThat(p.tokenId()).isEqualTo(Tokens.idOf(token));
        assertThat(p.allows(TokenVerifier.Scope.PREDICT)).isTrue();
        assertThat(p.allows(TokenVerifier.Scope.READ)).isFalse();
        assertThat(TokensFile.load(file, Clock.fixed(t0.plusSeconds(60), ZoneOffset.UTC)).verify(token)).isEmpty(); // expired
        assertThat(TokensFile.load(file, Clock.systemUTC()).verify(null)).isEmpty();
        assertThat(TokensFile.load(file, Clock.systemUTC()).verify(token + "x")).isEmpty();
        assertThatThrownBy(() -> TokensFile.create(file, "t", EnumSet.noneOf(TokenVerifier.Scope.class), null, Clock.systemUTC()))
                .hasMessageContaining("at least one scope");
        Files.writeString(file, "{not json");
        assertThatThrownBy(() -> TokensFile.load(file, Clock.systemUTC())).hasMessageContaining("cannot read the tokens file");
    }

    @Test
    void twoServersStartingTogetherMakeOneFirstToken() {
        Path file = tmp.resolve("serve-tokens.json");
        List<CompletableFuture<String>> racers = List.of(1, 2, 3, 4).stream()
                .map(i -> CompletableFuture.supplyAsync(() -> TokensFile.ensureOne(file, "default", EnumSet.of(TokenVerifier.Scope.READ), Clock.systemUTC())))
                .toList();
        List<String> made = racers.stream().map(CompletableFuture::join).filter(t -> t != null).toList();
        assertThat(made).hasSize(1);
        assertThat(TokensFile.load(file, Clock.systemUTC()).size()).isEqualTo(1);
        assertThat(TokensFile.load(file, Clock.systemUTC()).verify(made.get(0))).isPresent();
    }
}
