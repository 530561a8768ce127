package dev.canopy.spark;

import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.ObjectStore;
import dev.canopy.train.TileClassifierTrainable;
import dev.canopy.train.TrainingRun;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/** A survey, a model trained on it for one epoch and registered, and DuckDB reads of the output. */
final class Fixtures {
    private Fixtures() { }

    static void survey(ObjectStore out, int tiles, long seed) {
        try (SurveyGenerator g = new SurveyGenerator(2)) {
            g.generate(SurveySpec.of(tiles, 32, seed), out, ProgressListener.NONE);
        }
    }

    static ModelRegistry.Version model(URI survey, ObjectStore registryStore, Path cache) {
        Map<String, Object> c = new HashMap<>();
        c.put("survey", survey.toString());
        c.put("input_size", 32);
        c.put("batch_size", 16);
        c.put("epochs", 1);
        try (TileClassifierTrainable t = new TileClassifierTrainable()) {
            t.setup(c);
            t.step();
            return TrainingRun.register(new ModelRegistry(registryStore, cache, Clock.systemUTC()), "land-cover", t);
        }
    }

    static ModelRegistry registry(ObjectStore store, Path cache) {
        return new ModelRegistry(store, cache, Clock.systemUTC());
    }

    /** count, distinct ids, ok rows, error rows of the shards under a local folder. */
    static Map<String, Long> counts(Path shards) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement();
             ResultSet r = st.executeQuery("SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE status = 'ok'), "
                     + "count(*) FILTER (WHERE status = 'error') FROM read_parquet('" + shards + "/*.parquet')")) {
            r.next();
            Map<String, Long> m = new LinkedHashMap<>();
            m.put("rows", r.getLong(1));
            m.put("ids", r.getLong(2));
            m.put("ok", r.getLong(3));
            m.put("error", r.getLong(4));
            return m;
        }
    }
}
