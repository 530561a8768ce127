package dev.canopy.control;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.canopy.api.CanopyException;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's database: a PostgreSQL server ({@link #connect}) or, with nothing to set up, a
 * PostgreSQL embedded under the Canopy home ({@link #embedded}) — one SQL dialect for both. The
 * schema is brought up to date by Flyway on open. Owns a connection pool (and the embedded server):
 * close it.
 */
public final class Database implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Database.class);

    private final HikariDataSource pool;
    private final EmbeddedPostgres embedded;
    private final FileChannel embeddedLock;
    private final String description;

    private Database(HikariDataSource pool, EmbeddedPostgres embedded, FileChannel embeddedLock, String description) {
        this.pool = pool;
        this.embedded = embedded;
        this.embeddedLock = embeddedLock;
        this.description = description;
    }

    private static final java.util.regex.Pattern SCHEMA = java.util.regex.Pattern.compile("[a-z_][a-z0-9_]{0,62}");

    /** A PostgreSQL server, e.g. {@code jdbc:postgresql://127.0.0.1:5432/canopy}; {@code schema} null for the default. */
    public static Database connect(String jdbcUrl, String user, String password, String schema) {
        if (schema != null && !SCHEMA.matcher(schema).matches()) {
            throw new CanopyException("db.bad_schema", "invalid schema name '" + schema + "'",
                    "use lower-case letters, digits and '_' (at most 63, not starting with a digit)");
        }
        String shown = redact(jdbcUrl);
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(jdbcUrl);
        if (user != null) c.setUsername(user);
        if (password != null) c.setPassword(password);
        if (schema != null) c.setSchema(schema);
        c.setMaximumPoolSize(8);
        c.setConnectionTimeout(5_000);
        c.setPoolName("canopy-db");
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(c);
        } catch (RuntimeException e) {
            throw new CanopyException("db.unreachable", "cannot connect to " + shown + ": " + rootMessage(e),
                    "check the URL, that PostgreSQL runs and accepts this user (password from CANOPY_DB_PASSWORD or ~/.pgpass),"
                            + " or leave --db-url out for the embedded database", e);
        }
        try {
            migrate(ds, schema);
        } catch (RuntimeException e) {
            ds.close();
            throw migrationFailed(shown, e);
        }
        return new Database(ds, null, null, shown + (schema == null ? "" : " (schema " + schema + ")"));
    }

    /**
     * A PostgreSQL server embedded under {@code dataDir} (kept between runs), started now. Its data is
     * in {@code dataDir/data}, its binaries are unpacked to {@code dataDir/bin} (never a shared
     * temporary folder another user could fill first), and it listens only on localhost, with no Unix
     * socket. A {@code postmaster.pid} left by a
     * killed server is PostgreSQL's own to clear: it checks whether the process still runs.
     */
    public static Database embedded(Path dataDir) {
        EmbeddedPostgres pg = null;
        FileChannel lock = null;
        try {
            Files.createDirectories(dataDir);
            ownerOnly(dataDir);
            lock = lockOrExplain(dataDir);
            stopOrphan(dataDir.resolve("data"));
            String password = password(dataDir);
            Path bin = Files.createDirectories(dataDir.resolve("bin"));
            pg = EmbeddedPostgres.builder()
                    .setDataDirectory(dataDir.resolve("data"))
                    .setCleanDataDirectory(false)
                    .setOverrideWorkingDirectory(bin.toFile())
                    // TCP on localhost only: no Unix socket in a shared folder such as /tmp
                    .setServerConfig("unix_socket_directories", "")
                    // the builder turns both off for speed; tokens and revocations must survive a crash
                    .setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on")
                    .setServerConfig("password_encryption", "scram-sha-256")
                    // the start-up check connects with it too (ignored while pg_hba still says trust, on the very first start)
                    .setConnectConfig("password", password)
                    .start();
            requirePassword(pg, dataDir.resolve("data"), password);
            HikariConfig c = new HikariConfig();
            c.setDataSource(pg.getPostgresDatabase());
            c.setMaximumPoolSize(8);
            c.setConnectionTimeout(5_000);
            c.setPoolName("canopy-embedded-db");
            HikariDataSource ds = new HikariDataSource(c);
            try {
                migrate(ds, null);
            } catch (RuntimeException e) {
                ds.close();
                throw migrationFailed("the embedded database in " + dataDir, e);
            }
            // where another canopy process (token create while the server runs) finds this one
            Files.writeString(dataDir.resolve(PORT_FILE), Integer.toString(pg.getPort()));
            return new Database(ds, pg, lock, "embedded PostgreSQL in " + dataDir);
        } catch (IOException | RuntimeException e) {
            if (pg != null) {
                try {
                    pg.close();
                } catch (IOException | RuntimeException closing) {
                    e.addSuppressed(closing);
                }
            }
            closeQuietly(lock, e);
            if (e instanceof CanopyException ce) throw ce;
            throw new CanopyException("db.embedded_failed", "cannot start the embedded database in " + dataDir + ": " + rootMessage(e),
                    "check that the folder is writable and not used by another PostgreSQL, or give --db-url for a PostgreSQL server", e);
        }
    }

    static final String PORT_FILE = "port";
    static final String PASSWORD_FILE = "password";

    /** The database's password, made at first start and kept owner-only in the (owner-only) database folder. */
    private static String password(Path dataDir) throws IOException {
        Path f = dataDir.resolve(PASSWORD_FILE);
        Path hba = dataDir.resolve("data").resolve("pg_hba.conf");
        if (!Files.exists(f) && Files.exists(hba) && Files.readString(hba).contains("written by Canopy")) {
            // a new password would lock Canopy out of its own data: say how to get back in
            throw new CanopyException("db.password_missing", "the embedded database in " + dataDir + " requires a password, but "
                    + f + " is gone", "restore that file from a backup; or, to set a new one, stop every canopy process, replace the lines of "
                    + hba + " with 'host all all 127.0.0.1/32 trust' and start Canopy once (it makes and sets a new password)");
        }
        if (!Files.exists(f)) {
            byte[] b = new byte[24];
            new java.security.SecureRandom().nextBytes(b);
            Path tmp = dataDir.resolve(PASSWORD_FILE + ".tmp");
            Files.writeString(tmp, java.util.HexFormat.of().formatHex(b));
            try {
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException notPosix) {
                LOG.debug("{} is not on a POSIX file system", tmp);
            }
            Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        return Files.readString(f).trim();
    }

    /**
     * initdb leaves {@code trust} authentication: anyone on this machine could connect as the superuser. Every
     * start sets the password and makes TCP connections (the only kind: there is no Unix socket) present it.
     */
    private static void requirePassword(EmbeddedPostgres pg, Path data, String password) throws IOException {
        try (java.sql.Connection c = pg.getPostgresDatabase().getConnection(); java.sql.Statement s = c.createStatement()) {
            s.execute("ALTER USER postgres PASSWORD '" + password + "'"); // hex only: nothing to escape
            Files.writeString(data.resolve("pg_hba.conf"), "# written by Canopy: password (SCRAM) for every connection\n"
                    + "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n");
            s.execute("SELECT pg_reload_conf()");
        } catch (java.sql.SQLException e) {
            throw new IOException("cannot require a password on the embedded database: " + e.getMessage(), e);
        }
    }

    /**
     * A canopy process killed with SIGKILL leaves its PostgreSQL running with nobody to stop it. Holding the
     * lock proves no canopy process owns the database any more, so a postmaster still named in
     * {@code postmaster.pid} is such an orphan: it is asked to shut down (SIGTERM, PostgreSQL's smart
     * shutdown; it has no clients left) and, if it will not, killed (PostgreSQL recovers from its WAL).
     */
    private static void stopOrphan(Path data) throws IOException {
        Path pidFile = data.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) return;
        String first = Files.readAllLines(pidFile).stream().findFirst().orElse("").trim();
        if (!first.matches("\\d{1,9}")) return;
        java.util.Optional<ProcessHandle> h = ProcessHandle.of(Long.parseLong(first))
                .filter(p -> p.info().command().map(c -> c.endsWith("postgres")).orElse(false));
        if (h.isEmpty()) return; // a dead pid: PostgreSQL clears its own stale file
        LOG.warn("stopping the database server left running by a killed canopy process (pid {})", first);
        h.get().destroy();
        try {
            h.get().onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException slow) {
            h.get().destroyForcibly();
            h.get().onExit().join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping an orphaned database server", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException(e);
        }
    }

    /**
     * The embedded database under {@code dataDir}: started by this process, or, when another canopy process
     * runs it (a server), reached as a client on the localhost port it recorded. Like {@code createuser},
     * this needs local access to the Canopy home.
     */
    public static Database embeddedOrRunning(Path dataDir) {
        try {
            return embedded(dataDir);
        } catch (CanopyException e) {
            if (!e.code().equals("db.embedded_busy")) throw e;
            String port;
            try {
                port = Files.readString(dataDir.resolve(PORT_FILE)).trim();
            } catch (IOException noPort) {
                throw e;
            }
            if (!port.matches("\\d{1,5}")) throw e;
            String password;
            try {
                password = Files.readString(dataDir.resolve(PASSWORD_FILE)).trim();
            } catch (IOException noPassword) {
                throw e;
            }
            return connect("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", password, null);
        }
    }

    /**
     * One process at a time per embedded database, taken before anything is unpacked or initialised
     * (two first starts at once would otherwise both run initdb on the same folder). The lock file
     * holds the owner's pid, to name it to whoever waits.
     */
    private static FileChannel lockOrExplain(Path dataDir) throws IOException {
        Path file = dataDir.resolve("canopy.lock");
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        java.nio.channels.FileLock held;
        try {
            held = ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException sameJvm) {
            held = null;
        }
        if (held == null) {
            String owner = new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.US_ASCII).trim();
            ch.close();
            throw new CanopyException("db.embedded_busy", "the embedded database in " + dataDir + " is in use"
                    + (owner.isEmpty() ? "" : " by process " + owner),
                    "another canopy process is using this database; wait for it to finish, or give --db-url for a PostgreSQL server");
        }
        ch.truncate(0);
        ch.write(java.nio.ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(java.nio.charset.StandardCharsets.US_ASCII)), 0);
        return ch;
    }

    private static void closeQuietly(FileChannel ch, Throwable into) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException e) {
            into.addSuppressed(e);
        }
    }

    private static void ownerOnly(Path dir) throws IOException {
        try {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException e) {
            LOG.debug("{} is not on a POSIX file system; permissions left as they are", dir);
        }
    }

    private static CanopyException migrationFailed(String where, RuntimeException e) {
        return new CanopyException("db.migration_failed", "cannot bring the schema of " + where + " up to date: " + rootMessage(e),
                "check that the user may create tables there, and that the database is not from a newer Canopy version", e);
    }

    /** The URL without what may carry a secret (query parameters, user:password@). */
    static String redact(String jdbcUrl) {
        String s = jdbcUrl.replaceAll("//[^/@]*@", "//");
        int q = s.indexOf('?');
        return q < 0 ? s : s.substring(0, q) + "?…";
    }

    private static void migrate(DataSource ds, String schema) {
        var f = Flyway.configure().dataSource(ds).locations("classpath:db/migration");
        if (schema != null) f = f.schemas(schema).createSchemas(true);
        f.load().migrate();
    }

    private static String rootMessage(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null) c = c.getCause();
        return c.getMessage() != null ? c.getMessage() : c.toString();
    }

    public DataSource dataSource() {
        return pool;
    }

    public String describe() {
        return description;
    }

    @Override
    public void close() {
        pool.close();
        if (embedded != null) {
            try {
                embedded.close();
            } catch (IOException e) {
                LOG.warn("embedded database did not stop cleanly: {}", e.toString());
            }
        }
        if (embeddedLock != null) {
            try {
                embeddedLock.close();
            } catch (IOException e) {
                LOG.warn("could not release the embedded database's lock: {}", e.toString());
            }
        }
    }
}
