package dev.canopy.control;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.canopy.api.CanopyException;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    private final String description;

    private Database(HikariDataSource pool, EmbeddedPostgres embedded, String description) {
        this.pool = pool;
        this.embedded = embedded;
        this.description = description;
    }

    /** A PostgreSQL server, e.g. {@code jdbc:postgresql://127.0.0.1:5432/canopy}; {@code schema} null for the default. */
    public static Database connect(String jdbcUrl, String user, String password, String schema) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(jdbcUrl);
        if (user != null) c.setUsername(user);
        if (password != null) c.setPassword(password);
        if (schema != null) c.setSchema(schema);
        c.setMaximumPoolSize(8);
        c.setPoolName("canopy-db");
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(c);
        } catch (RuntimeException e) {
            throw new CanopyException("db.unreachable", "cannot connect to " + jdbcUrl + ": " + rootMessage(e),
                    "check the URL, that PostgreSQL runs and accepts this user, or leave --db-url out for the embedded database", e);
        }
        migrate(ds, schema);
        return new Database(ds, null, jdbcUrl + (schema == null ? "" : " (schema " + schema + ")"));
    }

    /**
     * A PostgreSQL server embedded under {@code dataDir} (kept between runs), started now. A
     * {@code postmaster.pid} left by a process that no longer exists (a killed server) is removed first.
     */
    public static Database embedded(Path dataDir) {
        try {
            Files.createDirectories(dataDir);
            removeStalePid(dataDir);
            EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(false).start();
            HikariConfig c = new HikariConfig();
            c.setDataSource(pg.getPostgresDatabase());
            c.setMaximumPoolSize(8);
            c.setPoolName("canopy-embedded-db");
            HikariDataSource ds = new HikariDataSource(c);
            migrate(ds, null);
            return new Database(ds, pg, "embedded PostgreSQL in " + dataDir);
        } catch (IOException e) {
            throw new CanopyException("db.embedded_failed", "cannot start the embedded database in " + dataDir + ": " + e.getMessage(),
                    "check the folder, or give --db-url for a PostgreSQL server", e);
        }
    }

    static void removeStalePid(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) return;
        String first = Files.readAllLines(pidFile).stream().findFirst().orElse("").trim();
        boolean alive;
        try {
            alive = ProcessHandle.of(Long.parseLong(first)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            alive = false;
        }
        if (!alive) {
            LOG.warn("removing {} left by a process that no longer runs ({})", pidFile, first);
            Files.delete(pidFile);
        }
    }

    private static void migrate(DataSource ds, String schema) {
        var f = Flyway.configure().dataSource(ds).locations("classpath:db/migration");
        if (schema != null) f = f.schemas(schema).createSchemas(true);
        f.load().migrate();
    }

    private static String rootMessage(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null) c = c.getCause();
        return c.getMessage();
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
    }
}
