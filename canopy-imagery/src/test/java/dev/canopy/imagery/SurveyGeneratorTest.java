package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.canopy.api.ProgressListener;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SurveyGeneratorTest {
    @TempDir
    Path tmp;

    private SurveyGenerator.Summary generate(Path dir, SurveySpec spec) {
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(dir)) {
            return g.generate(spec, out, ProgressListener.NONE);
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherImages() throws Exception {
        generate(tmp.resolve("a"), SurveySpec.of(40, 64, 7));
        generate(tmp.resolve("b"), SurveySpec.of(40, 64, 7));
        generate(tmp.resolve("c"), SurveySpec.of(40, 64, 8));
        try (FileObjectStore a = new FileObjectStore(tmp.resolve("a")); FileObjectStore b = new FileObjectStore(tmp.resolve("b"));
             FileObjectStore c = new FileObjectStore(tmp.resolve("c"))) {
            List<String> keys = a.listAll("tiles/").map(ObjectInfo::key).collect(Collectors.toList());
            assertThat(keys).hasSize(40);
            int differing = 0;
            for (String k : keys) {
                assertThat(a.get(k)).as(k).isEqualTo(b.get(k));
                if (!java.util.Arrays.equals(a.get(k), c.get(k))) differing++;
            }
            assertThat(differing).isEqualTo(40);
            List<ManifestRow> ra, rb;
            try (var s = Manifest.open(a).rows()) { ra = s.collect(Collectors.toList()); }
            try (var s = Manifest.open(b).rows()) { rb = s.collect(Collectors.toList()); }
            assertThat(ra).hasSize(40);
            for (int i = 0; i < ra.size(); i++) {
                assertThat(ra.get(i).id()).isEqualTo(rb.get(i).id());
                assertThat(ra.get(i).cover()).containsExactly(rb.get(i).cover());
                assertThat(ra.get(i).dominantClass()).isEqualTo(rb.get(i).dominantClass());
            }
        }
    }

    @Test
    void manifestReadsBackThroughDuckDb() throws Exception {
        Path dir = tmp.resolve("survey");
        SurveyGenerator.Summary s = generate(dir, SurveySpec.of(150, 64, 3));
        assertThat(s.rows()).isEqualTo(150);
        String parts = dir.resolve("manifest").toString() + "/*.parquet";
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
            try (ResultSet r = st.executeQuery("SELECT count(*), count(DISTINCT id), count(DISTINCT uri), min(octet_length(footprint)), "
                    + "max(abs(cover_native_grass + cover_invasive_weed + cover_shrub + cover_bare_soil + cover_water - 1)), "
                    + "count(DISTINCT dominant_class), min(min_lon < max_lon AND min_lat < max_lat)::INT, min(capture_time), max(capture_time) "
                    + "FROM read_parquet('" + parts + "')")) {
                r.next();
                assertThat(r.getLong(1)).isEqualTo(150);
                assertThat(r.getLong(2)).isEqualTo(150);
                assertThat(r.getLong(3)).isEqualTo(150);
                assertThat(r.getLong(4)).isEqualTo(93); // WKB polygon, one ring of 5 points
                assertThat(r.getDouble(5)).isLessThan(1e-5);
                assertThat(r.getLong(6)).isGreaterThanOrEqualTo(4);
                assertThat(r.getInt(7)).isEqualTo(1);
                assertThat(r.getTimestamp(8)).isBefore(r.getTimestamp(9));
            }
            // the dominant class is the largest cover fraction
            try (ResultSet r = st.executeQuery("SELECT count(*) FROM read_parquet('" + parts + "') WHERE "
                    + "(dominant_class = 'invasive_weed' AND cover_invasive_weed < greatest(cover_native_grass, cover_shrub, cover_bare_soil, cover_water))")) {
                r.next();
                assertThat(r.getLong(1)).isZero();
            }
            // every uri points at a JPEG that exists
            try (ResultSet r = st.executeQuery("SELECT uri FROM read_parquet('" + parts + "') LIMIT 5")) {
                while (r.next()) assertThat(Files.size(Path.of(java.net.URI.create(r.getString(1))))).isGreaterThan(100);
            }
        }
        ManifestIndex index = Manifest.open(new FileObjectStore(dir)).index();
        assertThat(index.crs()).isEqualTo("OGC:CRS84");
        assertThat(index.classes()).containsExactly("native_grass", "invasive_weed", "shrub", "bare_soil", "water");
        assertThat(Files.readString(dir.resolve("survey.json"))).contains("\"seed\" : 3", "OGC:CRS84");
    }

    @Test
    void distinctReusesImagesWithDistinctIdsAndFootprints() throws Exception {
        Path dir = tmp.resolve("big");
        generate(dir, SurveySpec.of(5_000, 32, 1).withDistinct(10));
        try (FileObjectStore s = new FileObjectStore(dir)) {
            assertThat(s.listAll("tiles/").count()).isEqualTo(10);
            String parts = dir.resolve("manifest").toString() + "/*.parquet";
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement();
                 ResultSet r = st.executeQuery("SELECT count(*), count(DISTINCT id), count(DISTINCT uri), count(DISTINCT (min_lon, min_lat)) "
                         + "FROM read_parquet('" + parts + "')")) {
                r.next();
                assertThat(r.getLong(1)).isEqualTo(5_000);
                assertThat(r.getLong(2)).isEqualTo(5_000);
                assertThat(r.getLong(3)).isEqualTo(10);
                assertThat(r.getLong(4)).isEqualTo(5_000);
            }
        }
    }

    @Test
    void footprintsTileTheGridWithoutGaps() {
        SurveySpec spec = SurveySpec.of(100, 256, 1);
        double[] a = spec.footprint(0, 0);
        double[] right = spec.footprint(1, 0);
        double[] below = spec.footprint(0, 1);
        assertThat(right[0]).isCloseTo(a[2], within(1e-12));
        assertThat(below[3]).isCloseTo(a[1], within(1e-12));
        // 256 px at 5 cm is 12.8 m, about 0.000115 degrees of latitude
        assertThat(a[3] - a[1]).isCloseTo(12.8 / 111_320.0, within(1e-12));
    }
}
