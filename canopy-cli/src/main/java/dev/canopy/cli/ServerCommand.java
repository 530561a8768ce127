package dev.canopy.cli;

import dev.canopy.control.ControlServer;
import dev.canopy.control.ControlSettings;
import dev.canopy.control.Database;
import dev.canopy.control.DbTokens;
import dev.canopy.control.DriverCommand;
import dev.canopy.storage.UriPolicy;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code canopy server}: the control plane on the embedded database (or {@code --db-url}), jobs as driver processes. */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Run the control plane: REST API v1 (OpenAPI at /openapi.json), a durable job queue whose jobs run as driver "
                + "processes, and signed webhooks. State lives in the embedded PostgreSQL under the Canopy home unless --db-url is given.")
final class ServerCommand implements Callable<Integer> {
    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}; 0.0.0.0 for every interface)")
    String host;
    @Option(names = "--port", defaultValue = "8790", description = "Port (default: ${DEFAULT-VALUE})")
    int port;
    @Option(names = "--db-url", description = "PostgreSQL JDBC URL (default: the embedded database in the Canopy home, db/)")
    String dbUrl;
    @Option(names = "--db-user", description = "Database user (default: the OS user); the password comes from CANOPY_DB_PASSWORD")
    String dbUser;
    @Option(names = "--allow-uris", description = "More URI prefixes surveys may be registered under (the home's surveys/ folder is always allowed), comma-separated")
    String allowUris;
    @Option(names = "--allow-callback", split = ",", description = "Internal addresses webhooks may reach: IPs, CIDR blocks or host names "
            + "(e.g. 127.0.0.1 for a receiver on this machine)")
    List<String> allowCallbacks = new ArrayList<>();
    @Option(names = "--max-running-jobs", defaultValue = "2", description = "Driver processes at once on this server (default: ${DEFAULT-VALUE})")
    int maxRunning;
    @Option(names = "--master", description = "Spark master for the jobs' drivers (default: local[*]; e.g. spark://host:7077)")
    String master;
    @Option(names = "--driver-heap", defaultValue = "1g", description = "Heap of each driver process (default: ${DEFAULT-VALUE})")
    String driverHeap;
    @Option(names = "--rate-limit", defaultValue = "20", description = "Requests per second per token, bursts of twice that; 0 for none (default: ${DEFAULT-VALUE})")
    double rateLimit;
    @Option(names = "--bundle", defaultValue = dev.canopy.cluster.Bundles.PRODUCTION, description = "Run jobs from this bundle: a digest, prefix or tag "
            + "(default: the bundle tagged production; on a first start, this build becomes it); 'none' runs them from this server's own class path")
    String bundle;
    @Option(names = "--lease-s", defaultValue = "15", description = "Seconds a job stays claimed without a heartbeat before another server takes it over (default: ${DEFAULT-VALUE})")
    int leaseSeconds;

    /**
     * The drivers' command from the chosen bundle: its jars as the class path, its digest as a mark the driver prints.
     * With no production bundle yet, a packaged build (jars only, as ./canopy runs) becomes it; a class path with class
     * folders (a developer's, a test's) is not a build to pin, so jobs then run from the server's own class path.
     */
    private DriverCommand driverFromBundle(DriverCommand own, String[] line) {
        if (bundle.equals("none")) {
            line[0] = "none: jobs run this server's own class path (--bundle none)";
            return own;
        }
        dev.canopy.cluster.Bundles bundles = main.bundles();
        java.util.Optional<dev.canopy.cluster.Bundles.Bundle> b = bundles.find(bundle);
        if (b.isEmpty() && !bundle.equals(dev.canopy.cluster.Bundles.PRODUCTION)) {
            throw new UsageException("no bundle '" + bundle + "'", "list them with 'canopy bundle list', or leave --bundle out to use production");
        }
        if (b.isEmpty()) {
            List<java.nio.file.Path> cp = BundleCommand.ownClassPath();
            if (!cp.stream().allMatch(p -> p.toString().endsWith(".jar"))) {
                line[0] = "none tagged production, and this is not a packaged build: jobs run this server's own class path";
                return own;
            }
            dev.canopy.cluster.Bundles.Bundle made = bundles.build(cp, java.util.Map.of("java", System.getProperty("java.specification.version"),
                    "code", dev.canopy.api.CodeVersion.get()), "canopy server (first start) on " + BundleCommand.hostName());
            b = java.util.Optional.of(bundles.tag(made.digest(), dev.canopy.cluster.Bundles.PRODUCTION));
        }
        dev.canopy.cluster.Bundles.Bundle chosen = b.get();
        String cp = String.join(java.io.File.pathSeparator, bundles.materialize(chosen).stream().map(java.nio.file.Path::toString).toList());
        List<String> options = new ArrayList<>(own.javaOptions());
        options.add("-D" + Main.BUNDLE_PROPERTY + "=" + chosen.digest());
        line[0] = chosen.digest() + " (" + chosen.status() + (chosen.tags().isEmpty() ? "" : ", " + String.join(", ", chosen.tags())) + "): jobs run its jars";
        return new DriverCommand(own.java(), List.copyOf(options), cp, own.mainClass(), own.master());
    }

    @Override
    public Integer call() throws Exception {
        if (!driverHeap.matches("\\d{1,6}[mgMG]")) throw new UsageException("--driver-heap '" + driverHeap + "' is not a heap size", "write e.g. 1g or 768m");
        if (maxRunning < 1 || maxRunning > 64) throw new UsageException("--max-running-jobs must be 1 to 64", "give a small number: each job is a JVM");
        if (leaseSeconds < 3 || leaseSeconds > 3600) throw new UsageException("--lease-s must be 3 to 3600", "15 suits most machines");
        java.nio.file.Path home = main.home().root();
        List<String> prefixes = new ArrayList<>(List.of(ControlSettings.surveysPrefix(home)));
        if (allowUris != null) prefixes.addAll(UriPolicy.parse(allowUris, "--allow-uris").prefixes());
        String[] bundleLine = {null};
        List<String> driverOptions = new ArrayList<>(List.of("-Xmx" + driverHeap));
        if (dbUrl != null) { // warm drivers reach the same database through their environment (never a command line); the embedded one they find in the home
            System.setProperty(dev.canopy.control.WarmPools.DB_URL_PROPERTY, dbUrl);
            System.setProperty(dev.canopy.control.WarmPools.DB_USER_PROPERTY, dbUser != null ? dbUser : System.getProperty("user.name"));
        }
        DriverCommand driver = driverFromBundle(DriverCommand.sameJvm(driverOptions, master), bundleLine);
        ControlSettings st = ControlSettings.defaults(home).withHost(host).withPort(port).withAllowUris(UriPolicy.of(prefixes, "--allow-uris"))
                .withAllowCallbacks(allowCallbacks).withMaxRunningJobs(maxRunning).withRateLimit(rateLimit).withLease(Duration.ofSeconds(leaseSeconds))
                .withDriver(driver);
        Database db = dbUrl == null ? Database.embedded(home.resolve("db"))
                : Database.connect(dbUrl, dbUser != null ? dbUser : System.getProperty("user.name"), System.getenv("CANOPY_DB_PASSWORD"), null);
        ControlServer server;
        try {
            server = ControlServer.start(db.dataSource(), new DbTokens(db.dataSource(), Clock.systemUTC()), main.registry(), st, Clock.systemUTC());
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.close(); // running drivers keep going; the next server re-attaches them
            } finally {
                db.close();
                stopped.countDown();
            }
        }));
        var out = spec.commandLine().getOut();
        out.printf("canopy server on http://%s:%d (API /v1, OpenAPI /openapi.json; Ctrl-C to stop)%n", host, server.port());
        out.printf("database    %s%n", db.describe());
        out.printf("jobs        %s (up to %d drivers at once%s)%n", home.resolve("jobs"), maxRunning, master == null ? ", Spark local[*]" : ", Spark " + master);
        out.printf("bundle      %s%n", bundleLine[0]);
        out.printf("surveys     under %s%n", String.join(", ", prefixes));
        out.printf("callbacks   public addresses%s%n", allowCallbacks.isEmpty() ? "" : ", and " + String.join(", ", allowCallbacks));
        out.println("tokens      canopy token create --team TEAM --scopes read,predict (in another terminal)");
        out.flush();
        stopped.await();
        return 0;
    }
}
