package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sizing a warm pool on this machine's PostgreSQL: calls at once start the missing drivers once. The driver processes
 * here are real but run a class without a main method (they exit at once), so only the pool's rows are looked at.
 */
class WarmPoolsTest {
    static Database db;
    static String schema;
    @TempDir
    static Path home;

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

    static int rows(String cluster) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM warm_drivers WHERE cluster = '" + cluster + "'")) {
            r.next();
            return r.getInt(1);
        }
    }

    @Test
    void resizesAtOnceStartTheMissingDriversOnceAndAShrinkRemovesTheRows() throws Exception {
        DriverCommand exitsAtOnce = new DriverCommand(DriverCommand.sameJvm(List.of(), null).java(), List.of("-Xmx32m"), System.getProperty("java.class.path"),
                "java.lang.Object", null);
        WarmPools pools = new WarmPools(db.dataSource(), Clock.systemUTC(), ControlSettings.defaults(home).withDriver(exitsAtOnce));
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Void>> calls = IntStream.range(0, 6).mapToObj(i -> CompletableFuture.runAsync(() -> {
            try {
                go.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            pools.resize("busy", 2, 600);
        })).toList();
        go.countDown();
        CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).join();
        assertThat(rows("busy")).as("six calls for a pool of two: two drivers").isEqualTo(2);
        assertThat(pools.resize("busy", 2, 600).get("drivers")).as("a driver still starting counts").isEqualTo(2);
        assertThat(rows("busy")).isEqualTo(2);
        pools.resize("busy", 0, 600);
        assertThat(rows("busy")).isZero();
    }
}
