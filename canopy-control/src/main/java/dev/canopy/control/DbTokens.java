package dev.canopy.control;

import dev.canopy.api.CanopyException;
import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.api.auth.Tokens;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Tokens in the control plane's database: created (shown once, stored as SHA-256), listed, revoked,
 * and verified for every request. Each change is written to the audit log in the same transaction.
 * Threads: any; each call uses its own connection.
 */
public final class DbTokens implements TokenVerifier {
    /** A stored token, as {@code token list} shows it (never the token itself). */
    public record Info(String id, String team, Set<Scope> scopes, Instant createdAt, Instant expiresAt, Instant revokedAt, String createdBy) { }

    private final DataSource db;
    private final Clock clock;

    public DbTokens(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** A new token for {@code team}; returned once, stored only as its hash; {@code actor} goes to the audit log. */
    public String create(String team, Set<Scope> scopes, Instant expiresAt, String actor) {
        if (team == null || !team.matches("[a-z0-9][a-z0-9._-]{0,62}")) {
            throw new CanopyException("auth.bad_team", "invalid team name '" + team + "'", "use lowercase letters, digits, '.', '_' or '-'");
        }
        if (scopes.isEmpty()) throw new CanopyException("auth.no_scopes", "a token needs at least one scope", "give --scopes read,predict");
        Instant now = clock.instant();
        if (expiresAt != null && !expiresAt.isAfter(now)) {
            throw new CanopyException("auth.bad_expiry", "the expiry " + expiresAt + " is not in the future", "give a later time or none");
        }
        String token = Tokens.newToken();
        String id = Tokens.idOf(token);
        inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO tokens (id, sha256, team, scopes, created_at, expires_at, created_by) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                s.setString(1, id);
                s.setString(2, Tokens.sha256(token));
                s.setString(3, team);
                s.setArray(4, c.createArrayOf("text", scopes.stream().map(Enum::name).sorted().toArray()));
                s.setTimestamp(5, Timestamp.from(now));
                s.setTimestamp(6, expiresAt == null ? null : Timestamp.from(expiresAt));
                s.setString(7, actor);
                s.executeUpdate();
            }
            audit(c, now, actor, "token.create", id, Map.of("team", team, "scopes", scopes.stream().map(Enum::name).sorted().toList()));
        });
        return token;
    }

    /** Revokes a token by id; false if there is no such live token. */
    public boolean revoke(String id, String actor) {
        Instant now = clock.instant();
        boolean[] done = new boolean[1];
        inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
                s.setTimestamp(1, Timestamp.from(now));
                s.setString(2, id);
                done[0] = s.executeUpdate() == 1;
            }
            if (done[0]) audit(c, now, actor, "token.revoke", id, Map.of());
        });
        return done[0];
    }

    public List<Info> list() {
        List<Info> out = new ArrayList<>();
        try (Connection c = db.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT id, team, scopes, created_at, expires_at, revoked_at, created_by FROM tokens ORDER BY created_at, id");
             ResultSet r = s.executeQuery()) {
            while (r.next()) {
                out.add(new Info(r.getString(1), r.getString(2), scopes(r.getArray(3)), instant(r.getTimestamp(4)), instant(r.getTimestamp(5)),
                        instant(r.getTimestamp(6)), r.getString(7)));
            }
        } catch (SQLException e) {
            throw dbError("list tokens", e);
        }
        return out;
    }

    @Override
    public Optional<Principal> verify(String token) {
        // not even shaped like a token: no database round trip for it
        if (token == null || !Tokens.looksLikeToken(token.trim())) return Optional.empty();
        try (Connection c = db.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT id, team, scopes, expires_at FROM tokens WHERE sha256 = ? AND revoked_at IS NULL "
                     + "AND (expires_at IS NULL OR expires_at > ?)")) {
            s.setString(1, Tokens.sha256(token.trim()));
            s.setTimestamp(2, Timestamp.from(clock.instant()));
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) return Optional.empty();
                return Optional.of(new Principal(r.getString(1), r.getString(2), scopes(r.getArray(3)), instant(r.getTimestamp(4))));
            }
        } catch (SQLException e) {
            throw dbError("verify a token", e);
        }
    }

    /** The audit log's entries about {@code subject}, oldest first, as "action by actor". */
    public List<String> auditOf(String subject) {
        List<String> out = new ArrayList<>();
        try (Connection c = db.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT action, actor FROM audit_log WHERE subject = ? ORDER BY id")) {
            s.setString(1, subject);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) out.add(r.getString(1) + " by " + r.getString(2));
            }
        } catch (SQLException e) {
            throw dbError("read the audit log", e);
        }
        return out;
    }

    private static void audit(Connection c, Instant at, String actor, String action, String subject, Map<String, Object> detail) throws SQLException {
        Models.audit(c, at, actor, action, subject, detail);
    }

    private interface Work {
        void run(Connection c) throws SQLException;
    }

    private void inTransaction(Work w) {
        Sql.tx(db, "write tokens", c -> {
            w.run(c);
            return null;
        });
    }

    private static Set<Scope> scopes(Array a) throws SQLException {
        Set<Scope> out = EnumSet.noneOf(Scope.class);
        for (Object o : (Object[]) a.getArray()) {
            // a scope this version does not know (written by a newer one) grants nothing here
            try {
                out.add(Scope.valueOf((String) o));
            } catch (IllegalArgumentException unknown) {
                continue;
            }
        }
        return out;
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }

    private static CanopyException dbError(String what, SQLException e) {
        return new CanopyException("db.error", "cannot " + what + ": " + e.getMessage(), "check the database", e);
    }
}
