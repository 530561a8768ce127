package dev.canopy.control;

import dev.canopy.api.CanopyException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Plain JDBC with less ceremony: a transaction or a single statement per call, parameters bound by
 * type ({@link Instant} as a timestamp, {@code String[]} as a text array, {@link Json} as jsonb when the
 * SQL says {@code ?::jsonb}). Every SQL failure becomes a {@code db.error} naming what was attempted.
 */
final class Sql {
    private Sql() { }

    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    interface Row<T> {
        T map(ResultSet r) throws SQLException;
    }

    /** Runs {@code w} in one transaction: committed if it returns, rolled back if it throws. */
    static <T> T tx(DataSource db, String what, Work<T> w) {
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try {
                T out = w.run(c);
                c.commit();
                return out;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw error(what, e);
        }
    }

    /** Runs {@code w} on a connection in auto-commit mode (reads, single statements). */
    static <T> T read(DataSource db, String what, Work<T> w) {
        try (Connection c = db.getConnection()) {
            return w.run(c);
        } catch (SQLException e) {
            throw error(what, e);
        }
    }

    static int update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            bind(c, s, args);
            return s.executeUpdate();
        }
    }

    static <T> List<T> query(Connection c, String sql, Row<T> row, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            bind(c, s, args);
            try (ResultSet r = s.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (r.next()) out.add(row.map(r));
                return out;
            }
        }
    }

    static <T> Optional<T> one(Connection c, String sql, Row<T> row, Object... args) throws SQLException {
        List<T> all = query(c, sql, row, args);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(0));
    }

    private static void bind(Connection c, PreparedStatement s, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a instanceof Instant t) s.setTimestamp(i + 1, Timestamp.from(t));
            else if (a instanceof String[] arr) s.setArray(i + 1, c.createArrayOf("text", arr));
            else s.setObject(i + 1, a);
        }
    }

    static Instant instant(ResultSet r, String column) throws SQLException {
        Timestamp t = r.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    static Long longOrNull(ResultSet r, String column) throws SQLException {
        long v = r.getLong(column);
        return r.wasNull() ? null : v;
    }

    static List<String> texts(ResultSet r, String column) throws SQLException {
        java.sql.Array a = r.getArray(column);
        if (a == null) return List.of();
        List<String> out = new ArrayList<>();
        for (Object o : (Object[]) a.getArray()) out.add((String) o);
        return out;
    }

    static CanopyException error(String what, SQLException e) {
        return new CanopyException("db.error", "cannot " + what + ": " + e.getMessage(), "check the database", e);
    }
}
