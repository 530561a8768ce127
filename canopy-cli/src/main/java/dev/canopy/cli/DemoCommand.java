package dev.canopy.cli;

import dev.canopy.api.CanopyHome;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.FileObjectStore;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** The main job on embedded defaults: everything under the Canopy home, nothing to set up. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run Canopy end to end on embedded defaults: generate a survey under the Canopy home and report it.")
final class DemoCommand implements Callable<Integer> {
    static final int DEFAULT_TILES = 1000;

    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--tiles", defaultValue = "" + DEFAULT_TILES, description = "Survey size (default: ${DEFAULT-VALUE})")
    long tiles;
    @Option(names = "--seed", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() {
        CanopyHome home = main.home();
        var out = spec.commandLine().getOut();
        out.printf("Canopy demo, home %s%n%n", home.root());
        out.println("1. Generating a synthetic aerial survey with known land-cover labels");
        try (FileObjectStore store = new FileObjectStore(home.surveys().resolve("demo"))) {
            SurveyGenerator.Summary s = SurveyRuns.generate(SurveySpec.of(tiles, SurveySpec.DEFAULT_TILE_SIZE, seed), store, true,
                    Runtime.getRuntime().availableProcessors(), main.progress());
            SurveyRuns.print(out, store, s);
        }
        out.println();
        out.println("Next: 'canopy survey show --survey " + home.surveys().resolve("demo") + "'");
        return 0;
    }
}
