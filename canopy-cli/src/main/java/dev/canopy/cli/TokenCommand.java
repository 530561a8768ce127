package dev.canopy.cli;

import dev.canopy.api.auth.TokenVerifier.Scope;
import dev.canopy.control.Database;
import dev.canopy.control.DbTokens;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * The control plane's tokens, with local access to its database (as {@code createuser} has): the
 * embedded PostgreSQL under the Canopy home by default, or {@code --db-url} for a server.
 */
@Command(name = "token", mixinStandardHelpOptions = true, description = "Create, list and revoke the control plane's bearer tokens (stored hashed).",
        subcommands = {TokenCommand.Create.class, TokenCommand.ListTokens.class, TokenCommand.Revoke.class})
final class TokenCommand {
    @ParentCommand
    Main main;
    @Option(names = "--db-url", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "PostgreSQL JDBC URL (default: the embedded database in the Canopy home, db/)")
    String dbUrl;
    @Option(names = "--db-user", scope = picocli.CommandLine.ScopeType.INHERIT, description = "Database user (default: the OS user)")
    String dbUser;

    Database open() {
        return dbUrl == null ? Database.embeddedOrRunning(main.home().root().resolve("db"))
                : Database.connect(dbUrl, dbUser != null ? dbUser : System.getProperty("user.name"), System.getenv("CANOPY_DB_PASSWORD"), null);
    }

    static String actor() {
        return System.getProperty("user.name") + "@local";
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Make a token; it is printed once and stored only as its SHA-256.")
    static final class Create implements Callable<Integer> {
        @ParentCommand
        TokenCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--team", required = true, description = "The team the token acts for")
        String team;
        @Option(names = "--scopes", required = true, split = ",", description = "read, predict, train, admin (comma-separated)")
        List<String> scopes;
        @Option(names = "--expires-in", description = "e.g. 30d, 12h, 45m (default: never)")
        String expiresIn;

        @Override
        public Integer call() {
            EnumSet<Scope> set = EnumSet.noneOf(Scope.class);
            for (String s : scopes) {
                try {
                    set.add(Scope.valueOf(s.trim().toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new UsageException("unknown scope '" + s + "'", "use read, predict, train or admin");
                }
            }
            Instant expires = expiresIn == null ? null : Instant.now().plus(duration(expiresIn));
            try (Database db = parent.open()) {
                String token = new DbTokens(db.dataSource(), Clock.systemUTC()).create(team, set, expires, actor());
                PrintWriter out = spec.commandLine().getOut();
                out.println(token);
                // the note goes to stderr, so that TOKEN=$(canopy token create ...) captures the token alone
                spec.commandLine().getErr().printf("(shown once; id %s, team %s, scopes %s%s; stored in %s)%n", dev.canopy.api.auth.Tokens.idOf(token), team, set,
                        expires == null ? "" : ", expires " + expires, db.describe());
            }
            return 0;
        }

        static Duration duration(String s) {
            if (!s.matches("\\d{1,7}[dhm]")) throw new UsageException("invalid --expires-in '" + s + "'", "write e.g. 30d, 12h or 45m");
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            Duration d = switch (s.charAt(s.length() - 1)) {
                case 'd' -> Duration.ofDays(n);
                case 'h' -> Duration.ofHours(n);
                default -> Duration.ofMinutes(n);
            };
            if (d.isZero() || d.compareTo(Duration.ofDays(3650)) > 0) {
                throw new UsageException("--expires-in '" + s + "' is outside 1 minute to 10 years", "leave it out for a token that never expires");
            }
            return d;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Tokens by id (never the tokens themselves).")
    static final class ListTokens implements Callable<Integer> {
        @ParentCommand
        TokenCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Database db = parent.open()) {
                out.printf("%-14s %-16s %-26s %-22s %s%n", "ID", "TEAM", "SCOPES", "EXPIRES", "STATE");
                for (DbTokens.Info t : new DbTokens(db.dataSource(), Clock.systemUTC()).list()) {
                    String state = t.revokedAt() != null ? "revoked " + t.revokedAt()
                            : t.expiresAt() != null && !t.expiresAt().isAfter(Instant.now()) ? "expired" : "active";
                    out.printf("%-14s %-16s %-26s %-22s %s%n", t.id(), t.team(), t.scopes(), t.expiresAt() == null ? "never" : t.expiresAt(), state);
                }
            }
            return 0;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a token by its id.")
    static final class Revoke implements Callable<Integer> {
        @ParentCommand
        TokenCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", description = "The token's id (from 'canopy token list')")
        String id;

        @Override
        public Integer call() {
            // a pasted token instead of its id: use its id, and never echo the secret
            String id = this.id.startsWith(dev.canopy.api.auth.Tokens.PREFIX) ? dev.canopy.api.auth.Tokens.idOf(this.id.trim()) : this.id;
            if (!id.matches("[0-9a-f]{12}")) {
                throw new UsageException("'" + id + "' is not a token id", "ids are 12 hex digits; 'canopy token list' shows them");
            }
            try (Database db = parent.open()) {
                if (!new DbTokens(db.dataSource(), Clock.systemUTC()).revoke(id, actor())) {
                    throw new UsageException("no active token with id " + id + " in " + db.describe(), "'canopy token list' shows the ids");
                }
            }
            spec.commandLine().getOut().println("revoked " + id);
            return 0;
        }
    }
}
