package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.ProgressListener;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AreaTest {
    @TempDir
    Path tmp;

    static String polygon(double minLon, double minLat, double maxLon, double maxLat) {
        return String.format(Locale.ROOT, "{\"type\":\"Polygon\",\"coordinates\":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}",
                minLon, minLat, maxLon, minLat, maxLon, maxLat, minLon, maxLat, minLon, minLat);
    }

    @Test
    void selectsExactlyTheTilesWhoseFootprintIntersects() {
        Path dir = tmp.resolve("s");
        SurveySpec spec = SurveySpec.of(400, 32, 11);
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(dir)) {
            g.generate(spec, out, ProgressListener.NONE);
            Manifest m = Manifest.open(out);
            double[] a = spec.footprint(3, 4);
            double[] b = spec.footprint(6, 9);
            // a box from inside tile (3,4) to inside tile (6,9): columns 3..6 and rows 4..9
            double minLon = a[0] + (a[2] - a[0]) * 0.5, maxLat = a[3] - (a[3] - a[1]) * 0.5;
            double maxLon = b[0] + (b[2] - b[0]) * 0.5, minLat = b[3] - (b[3] - b[1]) * 0.5;
            Area area = Area.parse("{\"type\":\"Feature\",\"properties\":{},\"geometry\":" + polygon(minLon, minLat, maxLon, maxLat) + "}");
            List<ManifestRow> picked;
            try (var rows = AreaSelection.select(m, area)) {
                picked = rows.collect(Collectors.toList());
            }
            assertThat(picked).hasSize(4 * 6);
            assertThat(picked).allMatch(r -> r.col() >= 3 && r.col() <= 6 && r.row() >= 4 && r.row() <= 9);
            assertThat(picked).allMatch(r -> area.intersectsWkb(r.footprintWkb()));
        }
    }

    @Test
    void multiPolygonAndFeatureCollectionsAreUnited() {
        String fc = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"geometry\":" + polygon(0, 0, 1, 1)
                + "},{\"type\":\"Feature\",\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[" + polygon(2, 2, 3, 3).replaceAll(".*\"coordinates\":(.*)}$", "$1") + "]}}]}";
        Area a = Area.parse(fc);
        assertThat(a.geometry().getArea()).isEqualTo(2.0);
        assertThat(a.intersects(new dev.canopy.api.BoundingBox(2.5, 2.5, 2.6, 2.6))).isTrue();
        assertThat(a.intersects(new dev.canopy.api.BoundingBox(1.5, 1.5, 1.6, 1.6))).isFalse();
    }

    @Test
    void badAreasNameTheProblem() {
        assertThatThrownBy(() -> Area.parse("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}"))
                .isInstanceOf(AreaException.class).hasMessageContaining("not closed");
        assertThatThrownBy(() -> Area.parse("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}"))
                .hasMessageContaining("at least 4");
        assertThatThrownBy(() -> Area.parse(polygon(0, 0, 1, 95))).hasMessageContaining("latitude 95").hasMessageContaining("[2]");
        assertThatThrownBy(() -> Area.parse("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"))
                .hasMessageContaining("not valid").hasMessageContaining("Self-intersection");
        assertThatThrownBy(() -> Area.parse("{\"type\":\"Point\",\"coordinates\":[0,0]}")).hasMessageContaining("only Polygon");
        assertThatThrownBy(() -> Area.parse("{not json")).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> Area.parse("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[\"a\",0],[1,1],[0,0]]]}"))
                .hasMessageContaining("$.coordinates[0][1]");
    }
}
