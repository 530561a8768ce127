package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.api.auth.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokens on both databases: the PostgreSQL server of this machine (a schema of its own) and the embedded default. */
class DbTokensTest {
    static final String SERVER = "jdbc:postgresql://127.0.0.1:5432/test";
    static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    @TempDir
    static Path tmp;
    static Database server;
    static Database embedded;
    static String schema;

    @BeforeAll
    static void open() {
        schema = "canopy_test_" + Long.toHexString(System.nanoTime());
        server = Database.connect(SERVER, System.getProperty("user.name"), null, schema);
        embedded = Database.embedded(tmp.resolve("db"));
    }

    @AfterAll
    static void close() throws Exception {
        if (server != null) {
            try (Connection c = server.dataSource().getConnection(); Statement s = c.createStatement()) {
                s.execute("DROP SCHEMA " + schema + " CASCADE");
            }
            server.close();
        }
        if (embedded != null) embedded.close();
    }

    static List<Database> both() {
        return List.of(server, embedded);
    }

    @Test
    void aTokenIsShownOnceStoredHashedVerifiedWithItsScopesAndAudited() throws Exception {
        for (Database db : both()) {
            DbTokens tokens = new DbTokens(db.dataSource(), Clock.fixed(T0, ZoneOffset.UTC));
            String token = tokens.create("team-a", EnumSet.of(Scope.PREDICT, Scope.READ), null, "root@test");
            var p = tokens.verify(token).orElseThrow();
            assertThat(p.team()).as(db.describe()).isEqualTo("team-a");
            assertThat(p.scopes()).containsExactlyInAnyOrder(Scope.PREDICT, Scope.READ);
            assertThat(p.tokenId()).isEqualTo(Tokens.idOf(token));
            assertThat(tokens.verify(token + "x")).isEmpty();
            assertThat(tokens.verify(" ")).isEmpty();
            try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT sha256 || id || team || array_to_string(scopes, ',') FROM tokens")) {
                while (r.next()) assertThat(r.getString(1)).doesNotContain(token.substring(Tokens.PREFIX.length()));
            }
            assertThat(tokens.list()).extracting(DbTokens.Info::id).contains(p.tokenId());
            assertThat(tokens.revoke(p.tokenId(), "admin@test")).isTrue();
            assertThat(tokens.revoke(p.tokenId(), "admin@test")).isFalse();
            assertThat(tokens.verify(token)).isEmpty();
            assertThat(tokens.auditOf(p.tokenId())).containsExactly("token.create by root@test", "token.revoke by admin@test");
        }
    }

    @Test
    void expiredTokensStopWorkingAndBadRequestsAreRefusedWithTheFix() {
        for (Database db : both()) {
            String token = new DbTokens(db.dataSource(), Clock.fixed(T0, ZoneOffset.UTC)).create("team-b", EnumSet.of(Scope.ADMIN),
                    T0.plusSeconds(60), "root");
            assertThat(new DbTokens(db.dataSource(), Clock.fixed(T0.plusSeconds(59), ZoneOffset.UTC)).verify(token)).isPresent();
            assertThat(new DbTokens(db.dataSource(), Clock.fixed(T0.plusSeconds(60), ZoneOffset.UTC)).verify(token)).isEmpty();
            DbTokens tokens = new DbTokens(db.dataSource(), Clock.fixed(T0, ZoneOffset.UTC));
            assertThatThrownBy(() -> tokens.create("Team A", EnumSet.of(Scope.READ), null, "root")).hasMessageContaining("invalid team name");
            assertThatThrownBy(() -> tokens.create("t", EnumSet.noneOf(Scope.class), null, "root")).hasMessageContaining("at least one scope");
            assertThatThrownBy(() -> tokens.create("t", EnumSet.of(Scope.READ), T0, "root")).hasMessageContaining("not in the future");
        }
    }

    @Test
    void theEmbeddedDatabaseKeepsItsDataAndRecoversFromAKilledServersPidFile() throws Exception {
        Path dir = tmp.resolve("restart");
        String token;
        try (Database first = Database.embedded(dir)) {
            token = new DbTokens(first.dataSource(), Clock.systemUTC()).create("team-c", EnumSet.of(Scope.READ), null, "root");
        }
        // as if a server had been killed: a pid file naming a process that no longer runs
        Files.writeString(dir.resolve("data/postmaster.pid"), "999999999\n" + dir.resolve("data") + "\n");
        try (Database again = Database.embedded(dir);
                var c = again.dataSource().getConnection();
                var st = c.createStatement()) {
            assertThat(new DbTokens(again.dataSource(), Clock.systemUTC()).verify(token)).isPresent();
            // durability and exposure settings the embedded builder would otherwise relax
            for (String[] expected : new String[][] {{"fsync", "on"}, {"synchronous_commit", "on"}, {"unix_socket_directories", ""}}) {
                try (var rs = st.executeQuery("SHOW " + expected[0])) {
                    rs.next();
                    assertThat(rs.getString(1)).as(expected[0]).isEqualTo(expected[1]);
                }
            }
        }
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        assertThat(dir.resolve("bin")).isDirectory();
    }

    @Test
    void aSecondOpenOfABusyEmbeddedDatabaseSaysWhoHoldsIt() {
        Path dir = tmp.resolve("busy");
        try (Database first = Database.embedded(dir)) {
            assertThatThrownBy(() -> Database.embedded(dir))
                    .hasMessageContaining("the embedded database in " + dir + " is in use by process " + ProcessHandle.current().pid())
                    .satisfies(e -> assertThat(((dev.canopy.api.CanopyException) e).fix()).contains("another canopy process"));
            assertThat(new DbTokens(first.dataSource(), Clock.systemUTC()).list()).isEmpty();
        }
    }

    @Test
    void errorsNeverShowCredentialsFromTheUrl() {
        assertThat(Database.redact("jdbc:postgresql://bob:secret@db.example:5432/canopy?password=secret&ssl=true"))
                .isEqualTo("jdbc:postgresql://db.example:5432/canopy?…").doesNotContain("secret");
        assertThatThrownBy(() -> Database.connect("jdbc:postgresql://127.0.0.1:1/nothing?password=hunter2", "x", null, null))
                .hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> Database.connect("jdbc:postgresql://127.0.0.1:1/nothing", "x", null, "Canopy, public"))
                .hasMessageContaining("invalid schema name 'Canopy, public'");
    }

    @Test
    void anUnreachableServerIsAClearError() {
        assertThatThrownBy(() -> Database.connect("jdbc:postgresql://127.0.0.1:1/nothing", "x", null, null))
                .hasMessageContaining("cannot connect to jdbc:postgresql://127.0.0.1:1/nothing")
                .satisfies(e -> assertThat(((dev.canopy.api.CanopyException) e).fix()).contains("embedded"));
    }

    /** initdb's trust authentication does not survive the first start: without the password nobody gets in. */
    @Test
    void theEmbeddedDatabaseWantsItsPasswordAndAnotherProcessFindsIt() throws Exception {
        Path dir = tmp.resolve("guarded");
        try (Database db = Database.embedded(dir)) {
            String port = Files.readString(dir.resolve("port")).trim();
            assertThatThrownBy(() -> java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", ""))
                    .isInstanceOf(java.sql.SQLException.class);
            assertThat(java.nio.file.Files.getPosixFilePermissions(dir.resolve("password"))).containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
            // a second canopy process (token create beside a running server) connects as a client, with the password
            try (Database client = Database.embeddedOrRunning(dir)) {
                new DbTokens(client.dataSource(), Clock.systemUTC()).create("t", java.util.EnumSet.of(Scope.READ), null, "test");
            }
        }
        // and a restart (SCRAM from the first connection on) works
        try (Database again = Database.embedded(dir)) {
            assertThat(new DbTokens(again.dataSource(), Clock.systemUTC()).list()).hasSize(1);
        }
        // a lost password file is named, with the way back, instead of a new password that would lock Canopy out
        Files.move(dir.resolve("password"), dir.resolve("password.bak"));
        assertThatThrownBy(() -> Database.embedded(dir)).hasMessageContaining("password").extracting(e -> ((dev.canopy.api.CanopyException) e).code())
                .isEqualTo("db.password_missing");
        Files.move(dir.resolve("password.bak"), dir.resolve("password"));
        try (Database restored = Database.embedded(dir)) {
            assertThat(new DbTokens(restored.dataSource(), Clock.systemUTC()).list()).hasSize(1);
        }
    }
}
