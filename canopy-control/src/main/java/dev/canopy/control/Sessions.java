package dev.canopy.control;

import dev.canopy.api.auth.TokenVerifier.Principal;
import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.api.auth.Tokens;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Dashboard sessions: a bearer token pasted once is exchanged for a random session id sent back as an
 * {@code HttpOnly; SameSite=Strict} cookie, so that page scripts never hold the token. A session acts with its
 * token's team and scopes, ends with the token (revoked or expired) or after {@link #TTL}, and its state-changing
 * requests must carry the session's CSRF token in {@code X-CSRF-Token}. Only the session id's SHA-256 is stored.
 * Threads: any.
 */
final class Sessions {
    static final String COOKIE = "canopy_session";
    static final Duration TTL = Duration.ofHours(12);
    private static final SecureRandom RANDOM = new SecureRandom();

    record Session(Principal principal, String csrf) { }

    private final DataSource db;
    private final Clock clock;

    Sessions(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** A new session for a verified token: [session id (for the cookie), CSRF token]. */
    String[] open(Principal p) {
        String id = random(), csrf = random();
        Instant now = clock.instant();
        Instant until = p.expiresAt() != null && p.expiresAt().isBefore(now.plus(TTL)) ? p.expiresAt() : now.plus(TTL);
        Sql.tx(db, "open a session", c -> Sql.update(c, "INSERT INTO ui_sessions (sha256, token_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                Tokens.sha256(id), p.tokenId(), csrf, now, until));
        return new String[] {id, csrf};
    }

    /** The live session of a cookie value, with its token's current team and scopes. */
    Optional<Session> find(String id) {
        if (id == null || id.length() != 43 || !id.matches("[A-Za-z0-9_-]{43}")) return Optional.empty();
        Instant now = clock.instant();
        return Sql.read(db, "read a session", c -> Sql.one(c, "SELECT t.id, t.team, t.scopes, t.expires_at, s.csrf FROM ui_sessions s "
                + "JOIN tokens t ON t.id = s.token_id WHERE s.sha256 = ? AND s.expires_at > ? AND t.revoked_at IS NULL "
                + "AND (t.expires_at IS NULL OR t.expires_at > ?)", r -> {
                    Set<Scope> scopes = EnumSet.noneOf(Scope.class);
                    for (String s : Sql.texts(r, "scopes")) {
                        try {
                            scopes.add(Scope.valueOf(s));
                        } catch (IllegalArgumentException unknown) {
                            continue; // a scope this version does not know grants nothing
                        }
                    }
                    return new Session(new Principal(r.getString(1), r.getString(2), scopes, Sql.instant(r, "expires_at")), r.getString("csrf"));
                }, Tokens.sha256(id), now, now));
    }

    void close(String id) {
        if (id == null) return;
        Sql.tx(db, "close a session", c -> Sql.update(c, "DELETE FROM ui_sessions WHERE sha256 = ?", Tokens.sha256(id)));
    }

    static boolean sameSecret(String a, String b) {
        return a != null && b != null && MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static String random() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
