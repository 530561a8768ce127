package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.control.Database;
import dev.canopy.control.DbTokens;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code canopy token} against the zero-setup default: the embedded PostgreSQL under the home folder. */
class TokenCommandTest {
    @TempDir
    Path tmp;

    @Test
    void createdTokenVerifiesUntilRevokedAndIsNeverStoredInClear() {
        Path home = tmp.resolve("home");
        MainTest.Result made = MainTest.runIn(home, "token", "create", "--team", "weeds", "--scopes", "read,predict", "--expires-in", "30d");
        assertThat(made.code()).as(made.err()).isZero();
        String token = made.out().lines().findFirst().orElseThrow().trim();
        String id = dev.canopy.api.auth.Tokens.idOf(token);

        MainTest.Result listed = MainTest.runIn(home, "token", "list");
        assertThat(listed.code()).as(listed.err()).isZero();
        assertThat(listed.out()).contains(id).contains("weeds").contains("active").doesNotContain(token);

        try (Database db = Database.embedded(home.resolve("db"))) {
            var principal = new DbTokens(db.dataSource(), Clock.systemUTC()).verify(token).orElseThrow();
            assertThat(principal.team()).isEqualTo("weeds");
            assertThat(principal.scopes()).containsExactlyInAnyOrder(Scope.READ, Scope.PREDICT);
        }

        MainTest.Result revoked = MainTest.runIn(home, "token", "revoke", id);
        assertThat(revoked.code()).as(revoked.err()).isZero();
        assertThat(MainTest.runIn(home, "token", "list").out()).contains("revoked");
        try (Database db = Database.embedded(home.resolve("db"))) {
            assertThat(new DbTokens(db.dataSource(), Clock.systemUTC()).verify(token)).isEmpty();
        }
        MainTest.Result again = MainTest.runIn(home, "token", "revoke", id);
        assertThat(again.code()).isEqualTo(2);
        assertThat(again.err()).contains("no active token with id " + id).contains("canopy token list");
        MainTest.Result pasted = MainTest.runIn(home, "token", "revoke", token);
        assertThat(pasted.code()).isEqualTo(2);
        assertThat(pasted.err()).contains("no active token with id " + id).doesNotContain(token);
    }

    @Test
    void badScopesAndDurationsNameTheFix() {
        Path home = tmp.resolve("home");
        MainTest.Result scope = MainTest.runIn(home, "token", "create", "--team", "t", "--scopes", "read,root");
        assertThat(scope.code()).isEqualTo(2);
        assertThat(scope.err()).contains("unknown scope 'root'").contains("read, predict, train or admin");
        MainTest.Result expiry = MainTest.runIn(home, "token", "create", "--team", "t", "--scopes", "read", "--expires-in", "soon");
        assertThat(expiry.code()).isEqualTo(2);
        assertThat(expiry.err()).contains("invalid --expires-in 'soon'").contains("30d");
        MainTest.Result forever = MainTest.runIn(home, "token", "create", "--team", "t", "--scopes", "read", "--expires-in", "999999d");
        assertThat(forever.code()).isEqualTo(2);
        assertThat(forever.err()).contains("outside 1 minute to 10 years");
        MainTest.Result team = MainTest.runIn(home, "token", "create", "--team", "", "--scopes", "read");
        assertThat(team.code()).as(team.err()).isEqualTo(2);
        MainTest.Result notAnId = MainTest.runIn(home, "token", "revoke", "DROP TABLE");
        assertThat(notAnId.code()).isEqualTo(2);
        assertThat(notAnId.err()).contains("is not a token id");
    }
}
