package dev.canopy.control;

import dev.canopy.api.auth.TokenVerifier.Principal;
import dev.canopy.api.auth.TokenVerifier.Scope;
import io.javalin.security.RouteRole;

/** Who is calling, as the handlers see it. */
final class Principals {
    private Principals() { }

    /** The scope a route needs; Javalin carries it as the route's role. */
    enum Needs implements RouteRole {
        READ(Scope.READ), PREDICT(Scope.PREDICT), TRAIN(Scope.TRAIN), ADMIN(Scope.ADMIN);

        final Scope scope;

        Needs(Scope scope) {
            this.scope = scope;
        }
    }

    /** A verified caller: a team sees its own surveys, jobs and webhooks; an admin token sees everything. */
    record Caller(Principal principal) {
        String team() {
            return principal.team();
        }

        boolean seesAll() {
            return principal.scopes().contains(Scope.ADMIN);
        }

        boolean sees(String ownerTeam) {
            return seesAll() || principal.team().equals(ownerTeam);
        }

        /** How the audit log and job records name the caller: the token id, never the token. */
        String actor() {
            return "token:" + principal.tokenId();
        }
    }
}
