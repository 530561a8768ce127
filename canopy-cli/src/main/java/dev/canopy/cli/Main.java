package dev.canopy.cli;

import dev.canopy.api.CanopyException;
import dev.canopy.api.CanopyHome;
import dev.canopy.api.CodeVersion;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Entry point of the {@code canopy} command. Exit codes: 0 ok, 1 failure, 2 bad arguments. */
@Command(name = "canopy", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Drone imagery to ecological answers: surveys, training, tuning, batch inference and serving.",
        subcommands = {DemoCommand.class, SurveyCommand.class, TrainCommand.class, TuneCommand.class, InferCommand.class, ServeCommand.class, TokenCommand.class, ServerCommand.class, PredictCommand.class, JobsCommand.class, WebhookCommand.class, RetrainCommand.class, ModelsCommand.class, RetrainRunCommand.class, StatusCommand.class, ModelCommand.class, ClusterCommand.class, BundleCommand.class, CiCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    @Option(names = "--home", description = "Canopy home folder (default: $CANOPY_HOME or ./canopy-data)", scope = CommandLine.ScopeType.INHERIT)
    Path home;

    @Option(names = "--no-progress", description = "Do not draw progress bars", scope = CommandLine.ScopeType.INHERIT)
    boolean noProgress;

    @Option(names = "--registry", description = "Model registry location (default: $CANOPY_REGISTRY or HOME/registry)", scope = CommandLine.ScopeType.INHERIT)
    String registry;

    dev.canopy.model.ModelRegistry registry() {
        String loc = registry != null ? registry : System.getenv("CANOPY_REGISTRY");
        dev.canopy.storage.ObjectStore store = loc == null || loc.isBlank()
                ? new dev.canopy.storage.FileObjectStore(home().registry()) : dev.canopy.storage.ObjectStores.open(loc);
        return new dev.canopy.model.ModelRegistry(store, home().cache().resolve("models"), java.time.Clock.systemUTC());
    }

    /**
     * Attaches the log file of a job: {@code _logs/NAME-TIME.log} in the job's folder when it is
     * local, else in the Canopy home's {@code logs/}. Returns the file.
     */
    Path jobLog(java.net.URI jobFolder, String name) {
        String file = name + "-" + java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".log";
        Path dir = "file".equals(jobFolder.getScheme()) ? Path.of(jobFolder).resolve("_logs") : home().logs();
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot create the log folder " + dir, e);
        }
        return JobLog.attach(dir.resolve(file));
    }

    /** The home's bundles ({@code $CANOPY_BUNDLES}, e.g. s3://bucket/canopy-bundles, or HOME/bundles), laid out under HOME/cache/bundles. */
    dev.canopy.cluster.Bundles bundles() {
        return dev.canopy.cluster.Bundles.ofHome(home().root(), java.time.Clock.systemUTC());
    }

    /** Set on the drivers a server starts from a bundle: the bundle's digest, which they print first (their log shows what ran). */
    static final String BUNDLE_PROPERTY = "canopy.bundle";

    CanopyHome home() {
        return CanopyHome.resolve(home);
    }

    ConsoleProgress progress() {
        return new ConsoleProgress(!noProgress);
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs a command line; used by {@link #main} and by tests. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        String bundle = System.getProperty(BUNDLE_PROPERTY);
        if (bundle != null) out.println("bundle " + bundle);
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((ex, a) -> {
            // one line that names the problem, then where to look
            err.println("canopy: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof CanopyException ce) {
                err.println("canopy: " + ce.oneLine());
                return isBadInput(ce.code()) ? 2 : 1;
            }
            if (ex instanceof IllegalArgumentException) {
                err.println("canopy: " + ex.getMessage());
                return 2;
            }
            err.println("canopy: unexpected " + ex.getClass().getSimpleName() + ": " + ex.getMessage());
            ex.printStackTrace(err);
            return 1;
        });
        return cli.execute(args);
    }

    /** Errors in what the user typed, as opposed to failures while doing the work. */
    static boolean isBadInput(String code) {
        return code.endsWith(".usage") || code.startsWith("area.") || code.equals("train.bad_config") || code.equals("train.unknown_setting")
                || code.equals("model.unknown_architecture") || code.startsWith("registry.bad_") || code.equals("model.file_missing")
                || code.equals("tune.invalid") || code.equals("tune.exists") || code.equals("tune.no_experiment")
                || code.equals("infer.output_exists") || code.equals("infer.nothing_to_resume") || code.equals("infer.plan_changed") || code.equals("storage.bad_location")
                || code.equals("storage.unsupported_scheme") || code.equals("storage.invalid_key")
                || code.startsWith("auth.bad_") || code.equals("auth.no_scopes") || code.equals("db.bad_schema")
                || code.startsWith("cluster.bad_") || code.equals("cluster.unknown") || code.equals("cluster.exists") || code.equals("cluster.small_workers")
                || code.equals("cluster.not_running") || code.equals("bundle.unknown") || code.equals("bundle.ambiguous") || code.startsWith("bundle.bad_");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"canopy " + CodeVersion.get(), "java " + System.getProperty("java.version")};
        }
    }
}
