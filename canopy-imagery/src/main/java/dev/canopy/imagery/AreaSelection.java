package dev.canopy.imagery;

import java.util.stream.Stream;

/** Selects the manifest rows whose footprints intersect an area, skipping whole parts by their extent. */
public final class AreaSelection {
    private AreaSelection() { }

    public static Stream<ManifestRow> select(Manifest manifest, Area area) {
        return manifest.rows(part -> area.bbox().intersects(part.bbox()), row -> area.intersects(row.bbox()));
    }
}
