package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.cluster.ClusterSpec;
import dev.canopy.cluster.ClusterStatus;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The service's cluster records on this machine's PostgreSQL: what a look at the host may and may not change. */
class ClusterRecordsTest {
    static final Instant T0 = new ManualClock().instant();
    static Database db;
    static String schema;

    @BeforeAll
    static void open() {
        schema = "canopy_test_" + Long.toHexString(System.nanoTime());
        db = Database.connect(DbTokensTest.SERVER, System.getProperty("user.name"), null, schema);
    }

    @AfterAll
    static void close() throws Exception {
        if (db == null) return;
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA " + schema + " CASCADE");
        }
        db.close();
    }

    static ClusterStatus status(String name, String state) {
        return new ClusterStatus(name, state, "spark://127.0.0.1:7077", "http://127.0.0.1:8080", 1, 1, 1, 0, 1024, 0, List.of(), Duration.ZERO, "/x", null);
    }

    record Row(String state, String createdBy, Instant createdAt, Instant updatedAt, boolean deleted, String workers) { }

    static Row row(String name) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT state, created_by, created_at, updated_at, deleted_at IS NOT NULL, spec->>'workers' FROM clusters WHERE name = '" + name + "'")) {
            if (!r.next()) return null;
            return new Row(r.getString(1), r.getString(2), r.getTimestamp(3).toInstant(), r.getTimestamp(4).toInstant(), r.getBoolean(5), r.getString(6));
        }
    }

    @Test
    void aLookThatStartedBeforeADeleteDoesNotBringTheClusterBackAndALaterOneStartsANewRecord() throws Exception {
        ManualClock clock = new ManualClock();
        ClusterRecords records = new ClusterRecords(db.dataSource(), clock);
        records.created(new ClusterSpec("a", 2, 1, "1g", null), status("a", ClusterStatus.RUNNING), "token:admin");
        Instant lookStarted = clock.instant().plusSeconds(1);
        clock.advance(Duration.ofSeconds(5));
        records.deleted("a", "token:admin");
        records.observed(status("a", ClusterStatus.RUNNING), lookStarted); // answered after the delete
        Row r = row("a");
        assertThat(r.state()).isEqualTo("DELETED");
        assertThat(r.deleted()).isTrue();
        assertThat(r.createdBy()).isEqualTo("token:admin");
        // seen on the host after the delete: made again with the CLI, a new record
        clock.advance(Duration.ofSeconds(5));
        records.observed(status("a", ClusterStatus.RUNNING), clock.instant());
        r = row("a");
        assertThat(r.deleted()).isFalse();
        assertThat(r.state()).isEqualTo(ClusterStatus.RUNNING);
        assertThat(r.createdBy()).isEqualTo(ClusterRecords.FOUND);
        assertThat(r.createdAt()).isEqualTo(clock.instant());
        assertThat(r.workers()).isNull();
    }

    @Test
    void anUnchangedLookWritesNothingAndAnOlderLookNeverOverwritesANewerOne() throws Exception {
        ManualClock clock = new ManualClock();
        ClusterRecords records = new ClusterRecords(db.dataSource(), clock);
        records.created(new ClusterSpec("b", 1, 1, "1g", null), status("b", ClusterStatus.RUNNING), "token:admin");
        clock.advance(Duration.ofSeconds(10));
        records.observed(status("b", ClusterStatus.RUNNING), clock.instant());
        assertThat(row("b").updatedAt()).as("nothing changed: nothing written").isEqualTo(T0);
        Instant before = clock.instant();
        clock.advance(Duration.ofSeconds(10));
        records.changed(status("b", ClusterStatus.STOPPED), clock.instant(), "token:admin", "cluster.stop", Map.of());
        records.observed(status("b", ClusterStatus.RUNNING), before); // a look from before the stop, answered late
        assertThat(row("b").state()).isEqualTo(ClusterStatus.STOPPED);
        assertThat(row("b").workers()).isEqualTo("1");
    }

    @Test
    void deletingAClusterTheServiceNeverSawStillRecordsIt() throws Exception {
        ClusterRecords records = new ClusterRecords(db.dataSource(), new ManualClock());
        records.deleted("c", "token:admin");
        Row r = row("c");
        assertThat(r.state()).isEqualTo("DELETED");
        assertThat(r.deleted()).isTrue();
        assertThat(r.createdBy()).isEqualTo(ClusterRecords.FOUND);
    }

    @Test
    void aReadNeverFailsBecauseItsRecordCannotBeWritten() {
        ClusterRecords broken = new ClusterRecords(new org.postgresql.ds.PGSimpleDataSource() {
            @Override
            public Connection getConnection() throws java.sql.SQLException {
                throw new java.sql.SQLException("database down");
            }
        }, new ManualClock());
        broken.observed(status("d", ClusterStatus.RUNNING), T0); // logged, not thrown
    }
}
