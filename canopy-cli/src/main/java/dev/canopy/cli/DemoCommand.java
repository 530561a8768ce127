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
        description = "Run Canopy end to end on embedded defaults: generate a survey, tune, train and register a model, "
                + "then run batch inference over the survey on Spark local[*].")
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
    @Option(names = "--epochs", defaultValue = "5", description = "Training epochs (default: ${DEFAULT-VALUE})")
    int epochs;
    @Option(names = "--tune-samples", defaultValue = "6", description = "Configurations tried by the tuning step (default: ${DEFAULT-VALUE})")
    int tuneSamples;

    static final String DEMO_SPACE = """
            learning_rate: {loguniform: [0.0005, 0.02]}
            batch_size: {choice: [32, 64]}
            lr_schedule: {choice: [cosine, constant]}
            """;

    @Option(names = "--refine", negatable = true, defaultValue = "true",
            description = "After the coarse search, a second one narrowed around its best trials (coarse then fine; --no-refine skips it)")
    boolean refine;

    /** A short ASHA search on a subset of the survey (then a narrowed one around its best); returns the best configuration found. */
    private java.util.Map<String, Object> tune(CanopyHome home, java.nio.file.Path survey, java.io.PrintWriter out) {
        dev.canopy.tune.TuneSettings s = dev.canopy.tune.TuneSettings.defaults(survey.toUri().toString(), DEMO_SPACE).withSamples(tuneSamples)
                .withMaxT(3).withMaxTiles(300).withSeed(seed).withMaxFailures(1).withNoRegister(true).withRefine(refine);
        try {
            java.nio.file.Path dir = home.dir("tune").resolve("demo-" + System.currentTimeMillis());
            dev.canopy.tune.Tuning.Stage r = dev.canopy.tune.Tuning.run(s, dir.toString(), false,
                    (st, d, resuming) -> TuneCommand.run(main, st, d, false, out), null).winner();
            java.util.Map<String, Object> best = new java.util.LinkedHashMap<>(r.best().config());
            out.printf("best configuration: %s%n", best);
            return best;
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

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
        java.nio.file.Path survey = home.surveys().resolve("demo");
        out.println("2. Tuning the learning rate, batch size and schedule with ASHA (a few short trials on a subset)");
        java.util.Map<String, Object> best = tune(home, survey, out);
        out.println();
        out.println("3. Training a small CNN with the best configuration (checkpoint every epoch) and registering it");
        java.util.Map<String, Object> c = dev.canopy.train.TrainConfig.defaults(survey.toUri().toString()).toMap();
        c.putAll(best);
        c.put("epochs", epochs);
        c.put("seed", seed);
        java.net.URI runUri = home.runs().resolve("demo-train-" + System.currentTimeMillis()).toUri();
        dev.canopy.train.TrainingRun run = dev.canopy.train.TrainingRun.create(runUri,
                dev.canopy.train.TrainConfig.fromMap(c), dev.canopy.storage.S3Settings.fromEnvironment());
        out.println("run " + runUri);
        dev.canopy.model.ModelRegistry.Version v = TrainCommand.trainAndRegister(main, out, run, "land-cover");
        dev.canopy.model.ModelRegistry.Version staged = main.registry().promote(v.name(), v.version(), "staging");
        out.printf("registered %s (stage %s, val_acc %s)%n", staged.ref(), staged.stage(), ModelCommand.metric(staged, "val_accuracy"));
        out.println();
        out.println("4. Batch inference over the whole survey on Spark (local[*]) into GeoParquet");
        java.nio.file.Path jobDir = home.jobs().resolve("demo-infer");
        dev.canopy.batch.InferenceJobSpec job = new dev.canopy.batch.InferenceJobSpec(survey.toUri().toString(),
                main.registry().store().root().toString(), main.registry().packagePrefix(staged), staged.ref(), null, dev.canopy.storage.ObjectStores.toUri(jobDir.toString()).toString(),
                1, 32, 5_000, Runtime.getRuntime().availableProcessors(), dev.canopy.batch.TilePipeline.DEFAULT_MAX_IN_FLIGHT,
                dev.canopy.batch.TilePipeline.DEFAULT_MAX_IN_FLIGHT_BYTES).withEngine(InferCommand.engine(main, main.registry().openPackage(staged), "auto").id());
        dev.canopy.batch.BatchInference.Summary summary = InferCommand.run(main, job, staged, null,
                dev.canopy.batch.BatchInference.Options.defaults().withOverwrite(true).withRowsPerShard(250), null);
        InferCommand.print(out, summary);
        double weed = summary.estimatedCover().getOrDefault("invasive_weed", 0.0);
        double truth;
        try (FileObjectStore store = new FileObjectStore(survey);
             var rows = dev.canopy.imagery.Manifest.open(store).rows()) {
            truth = rows.mapToDouble(r -> r.cover()[dev.canopy.imagery.LandCover.INVASIVE_WEED.ordinal()]).average().orElse(0);
        }
        out.printf("%nInvasive weed cover of the surveyed area: %.1f%% estimated from %,d tiles (%.1f%% in the synthetic ground truth)%n"
                + "GeoParquet: %s%n", 100 * weed, summary.ok(), 100 * truth, jobDir.resolve("shards"));
        out.println();
        out.println("Next: 'canopy model show land-cover', 'canopy model promote " + v.ref() + " production', "
                + "'canopy infer --model land-cover@staging --survey " + survey + " --area AREA.geojson --out OUT'");
        return 0;
    }
}
