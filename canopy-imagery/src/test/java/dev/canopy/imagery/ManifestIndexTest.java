package dev.canopy.imagery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ManifestIndexTest {
    static ManifestIndex index() {
        return new ManifestIndex(1, ManifestIndex.CRS, List.of("a", "b"), 350, List.of(
                new ManifestIndex.Part("manifest/part-00000.parquet", 0, 200, 0, 0, 1, 1),
                new ManifestIndex.Part("manifest/part-00001.parquet", 200, 150, 1, 0, 2, 1)));
    }

    @Test
    void roundTripsThroughJson() {
        ManifestIndex i = index();
        assertThat(ManifestIndex.fromJson(i.toJson())).isEqualTo(i);
        assertThat(i.parts().get(1).bbox().minX()).isEqualTo(1.0);
        assertThat(i.parts().get(1).bbox().maxX()).isEqualTo(2.0);
        assertThatThrownBy(() -> ManifestIndex.fromJson("{oops".getBytes())).isInstanceOf(ManifestException.class)
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void repeatedIndexesCycleThePartsAndCutTheLastOne() {
        ManifestIndex r = index().repeated(1000);
        assertThat(r.rows()).isEqualTo(1000);
        assertThat(r.parts()).extracting(ManifestIndex.Part::rows).containsExactly(200L, 150L, 200L, 150L, 200L, 100L);
        assertThat(r.parts()).extracting(ManifestIndex.Part::firstRow).containsExactly(0L, 200L, 350L, 550L, 700L, 900L);
        assertThat(r.parts().get(2).key()).isEqualTo("manifest/part-00000.parquet");
        assertThat(r.parts().get(3).bbox()).isEqualTo(index().parts().get(1).bbox());
        assertThat(r.classes()).containsExactly("a", "b");
        assertThat(index().repeated(50).parts()).extracting(ManifestIndex.Part::rows).containsExactly(50L);
        assertThat(index().repeated(350).parts()).hasSize(2);
        assertThatThrownBy(() -> new ManifestIndex(1, ManifestIndex.CRS, List.of("a"), 0, List.of()).repeated(10))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> new ManifestIndex(1, ManifestIndex.CRS, List.of("a"), 0,
                List.of(new ManifestIndex.Part("p", 0, 0, 0, 0, 1, 1))).repeated(10)).isInstanceOf(IllegalStateException.class);
    }
}
