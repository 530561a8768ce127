package dev.canopy.api.auth;

import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * Checks bearer tokens. Servers ask it about every request; the control plane implements it with its
 * database, {@code canopy serve} with a tokens file, so serving does not depend on the control plane.
 *
 * <p>Threads: any; implementations are safe for concurrent calls.
 */
public interface TokenVerifier {
    /** What a token may do. {@link #ADMIN} implies every other scope. */
    enum Scope { READ, PREDICT, TRAIN, ADMIN }

    /** The holder of a valid token: its id (never the token itself), team and scopes. */
    record Principal(String tokenId, String team, Set<Scope> scopes, Instant expiresAt) {
        public boolean allows(Scope s) {
            return scopes.contains(s) || scopes.contains(Scope.ADMIN);
        }
    }

    /** The token's holder, or empty if the token is unknown, revoked or expired. */
    Optional<Principal> verify(String token);
}
