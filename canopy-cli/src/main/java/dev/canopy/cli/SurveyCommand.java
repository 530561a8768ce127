package dev.canopy.cli;

import dev.canopy.imagery.Area;
import dev.canopy.imagery.AreaSelection;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "survey", mixinStandardHelpOptions = true, description = "Generate, inspect and select from aerial surveys.",
        subcommands = {SurveyCommand.Generate.class, SurveyCommand.Show.class, SurveyCommand.Select.class})
final class SurveyCommand {
    @ParentCommand
    Main main;

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Render a synthetic orthomosaic into JPEG tiles plus a Parquet manifest with known labels.")
    static final class Generate implements Callable<Integer> {
        @ParentCommand
        SurveyCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--out", required = true, description = "Where to write: a path, file:// or s3://bucket/prefix")
        String out;
        @Option(names = "--tiles", defaultValue = "1000", description = "Number of manifest rows (default: ${DEFAULT-VALUE})")
        long tiles;
        @Option(names = "--tile-size", defaultValue = "256", description = "Tile edge in pixels, a multiple of 8 (default: ${DEFAULT-VALUE})")
        int tileSize;
        @Option(names = "--seed", defaultValue = "42", description = "Random seed; the same seed gives the same survey (default: ${DEFAULT-VALUE})")
        long seed;
        @Option(names = "--distinct", description = "Write only K distinct images and reuse them across the N rows (scale tests)")
        Long distinct;
        @Option(names = "--threads", description = "Render threads (default: all cores)")
        Integer threads;
        @Option(names = "--overwrite", description = "Replace a survey that already exists at --out")
        boolean overwrite;

        @Override
        public Integer call() {
            SurveySpec s = SurveySpec.of(tiles, tileSize, seed);
            if (distinct != null) s = s.withDistinct(distinct);
            SurveySpec surveySpec = s;
            try (ObjectStore store = ObjectStores.open(out)) {
                SurveyGenerator.Summary summary = SurveyRuns.generate(surveySpec, store, overwrite,
                        threads == null ? Runtime.getRuntime().availableProcessors() : threads, parent.main.progress());
                SurveyRuns.print(spec.commandLine().getOut(), store, summary);
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Describe a survey: rows, classes, extent.")
    static final class Show implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--survey", required = true, description = "Survey root (path, file:// or s3://)")
        String survey;

        @Override
        public Integer call() {
            try (ObjectStore store = ObjectStores.open(survey)) {
                Manifest m = Manifest.open(store);
                var out = spec.commandLine().getOut();
                out.printf("survey   %s%n", store.root());
                out.printf("rows     %,d in %d manifest part(s), CRS %s%n", m.rowCount(), m.index().parts().size(), m.index().crs());
                out.printf("classes  %s%n", String.join(", ", m.classes()));
                return 0;
            }
        }
    }

    @Command(name = "select", mixinStandardHelpOptions = true,
            description = "Write a manifest of the tiles whose footprints intersect a GeoJSON area.")
    static final class Select implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--survey", required = true, description = "Survey root (path, file:// or s3://)")
        String survey;
        @Option(names = "--area", required = true, description = "GeoJSON file: Polygon, MultiPolygon, Feature or FeatureCollection (lon/lat)")
        Path area;
        @Option(names = "--out", required = true, description = "Where to write the selected manifest")
        String out;

        @Override
        public Integer call() throws IOException {
            if (!Files.isRegularFile(area)) throw new UsageException("area file not found: " + area, "give a GeoJSON file with --area");
            Area a = Area.parse(Files.readString(area));
            try (ObjectStore in = ObjectStores.open(survey); ObjectStore dst = ObjectStores.open(out)) {
                if (dst.exists(ManifestWriter.INDEX)) {
                    throw new UsageException("a manifest already exists at " + dst.uri(ManifestWriter.INDEX), "choose another --out");
                }
                long n = 0;
                try (Stream<ManifestRow> rows = AreaSelection.select(Manifest.open(in), a);
                     ManifestWriter w = new ManifestWriter(dst, ManifestWriter.DEFAULT_ROWS_PER_PART, Map.of("canopy.selection.area", a.geometry().toText()))) {
                    for (var it = rows.iterator(); it.hasNext(); n++) w.write(it.next());
                }
                spec.commandLine().getOut().printf("selected %,d tiles intersecting %s into %s%n", n, area, dst.uri(ManifestWriter.INDEX));
            }
            return 0;
        }
    }
}
