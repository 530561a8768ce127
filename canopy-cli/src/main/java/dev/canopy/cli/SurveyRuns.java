package dev.canopy.cli;

import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import java.io.PrintWriter;
import java.util.List;
import java.util.stream.Collectors;

/** Survey generation as used by both {@code survey generate} and {@code demo}. */
final class SurveyRuns {
    private SurveyRuns() { }

    static SurveyGenerator.Summary generate(SurveySpec spec, ObjectStore store, boolean overwrite, int threads, ProgressListener progress) {
        if (store.exists(ManifestWriter.INDEX)) {
            if (!overwrite) {
                throw new UsageException("a survey already exists at " + store.root(), "pass --overwrite to replace it, or choose another --out");
            }
            List<String> old;
            try (var s = store.listAll("")) {
                old = s.map(ObjectInfo::key).collect(Collectors.toList());
            }
            old.forEach(store::delete);
        }
        try (SurveyGenerator g = new SurveyGenerator(threads)) {
            return g.generate(spec, store, progress);
        }
    }

    static void print(PrintWriter out, ObjectStore store, SurveyGenerator.Summary s) {
        out.printf("survey      %s%n", store.root());
        out.printf("manifest    %s (%,d rows, CRS OGC:CRS84)%n", store.uri(ManifestWriter.INDEX), s.rows());
        out.printf("images      %,d JPEG tiles of %d px, seed %d%n", s.images(), s.spec().tileSize(), s.spec().seed());
        out.printf("rendered in %.1f s (%.0f tiles/s)%n", s.elapsed().toMillis() / 1000.0, s.tilesPerSecond());
        out.printf("extent      lon %.6f..%.6f, lat %.6f..%.6f%n", s.extent().minX(), s.extent().maxX(), s.extent().minY(), s.extent().maxY());
        out.print("dominant    ");
        for (LandCover c : LandCover.values()) out.printf("%s %,d  ", c.label(), s.tilesByDominantClass()[c.ordinal()]);
        out.println();
    }
}
