package dev.canopy.cli;

import dev.canopy.api.Json;
import dev.canopy.cluster.Bundles;
import dev.canopy.cluster.ClusterProvider;
import dev.canopy.cluster.ClusterSpec;
import dev.canopy.cluster.ClusterStatus;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code canopy ci run}: the pipeline's end-to-end tests on a cluster started from a bundle. */
@Command(name = "ci", mixinStandardHelpOptions = true, description = "Run the pipeline tests on a cluster made from a bundle.",
        subcommands = CiCommand.Run.class)
final class CiCommand {
    @ParentCommand
    Main main;

    /** One test of the suite: its name, how long it took, what failed (null: passed), and its log. */
    record Step(String name, double seconds, String failure, Path log) { }

    /**
     * Creates (or reuses) the bundle's cluster, runs small end-to-end jobs on it (train an epoch, tune two trials,
     * infer a small survey, check the GeoParquet with DuckDB), writes JUnit XML and a summary naming the logs, marks
     * the bundle tested or failed, and exits 1 if any test failed. Everything lands in its folder (HOME/ci/RUN);
     * models go to a registry there, not the home's.
     */
    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Create (or reuse) a cluster from the bundle, run the pipeline tests on it (train an epoch, tune two trials, infer a "
                    + "small survey, check the outputs with DuckDB), write JUnit XML and a summary with the logs' address, mark the bundle "
                    + "tested or failed; exit 1 on a failure."})
    static final class Run implements Callable<Integer> {
        static final int TILES = 60;
        @ParentCommand
        CiCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--bundle", required = true, description = "The bundle to test: digest, digest prefix or tag")
        String bundle;
        @Option(names = "--workers", defaultValue = "1", description = "Workers of the test cluster (default: ${DEFAULT-VALUE})")
        int workers;
        @Option(names = "--out", description = "Folder for results and logs (default: HOME/ci/ci-TIMESTAMP)")
        Path out;
        @Option(names = "--keep-cluster", description = "Leave the cluster running for the next run (a warm start); default: stop a cluster this run started")
        boolean keepCluster;
        @Option(names = "--min-val-accuracy", defaultValue = "0", description = "Fail the training test below this validation accuracy (default: no floor)")
        double minValAccuracy;
        @Option(names = "--fail-fast", description = "Stop at the first failed test (the rest are reported as skipped)")
        boolean failFast;

        @Override
        public Integer call() throws Exception {
            PrintWriter console = spec.commandLine().getOut();
            Main main = parent.main;
            Bundles bundles = main.bundles();
            Bundles.Bundle b = bundles.require(bundle);
            Path dir = out != null ? out : main.home().dir("ci").resolve("ci-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
            Path logs = dir.resolve("logs");
            Files.createDirectories(logs);
            String name = "ci-" + b.digest().substring(7, 15);
            ClusterProvider provider = ClusterCommand.provider(main);
            refuseOtherBundlesCluster(provider, name, b);
            boolean[] started = {false};
            List<Step> steps = new ArrayList<>();
            // the suite's commands run from the bundle under test (its jars, a JVM each), as the cluster does
            List<Path> jars = bundles.materialize(b);
            try {
                long clusterStart = System.nanoTime();
                try {
                    started[0] = ensureCluster(provider, name, b, console, started);
                } catch (RuntimeException e) {
                    steps.add(new Step("start the bundle's cluster", (System.nanoTime() - clusterStart) / 1e9, e.getMessage(), logs.resolve("cluster.log")));
                    Files.writeString(logs.resolve("cluster.log"), String.valueOf(e), StandardCharsets.UTF_8);
                    throw e;
                }
                Path survey = dir.resolve("survey");
                Path registry = dir.resolve("registry");
                List<String> common = List.of("--registry", registry.toString());
                List<Object[]> plan = List.of(
                        new Object[] {"generate a survey", cmd(common, "survey", "generate", "--out", survey.toString(), "--tiles", "" + TILES, "--tile-size", "32"), null},
                        new Object[] {"train one epoch on the cluster", cmd(common, "train", "--survey", survey.toString(), "--input-size", "32", "--batch-size", "16",
                                "--epochs", "1", "--run", dir.resolve("run").toString(), "--name", "ci-model", "--cluster", name), (Check) () -> accuracyFloor(main, registry)},
                        new Object[] {"tune two trials on the cluster", cmd(common, "tune", "--survey", survey.toString(), "--space", space(dir).toString(),
                                "--samples", "2", "--max-t", "1", "--input-size", "32", "--max-tiles", "" + TILES, "--executor", "spark", "--cluster", name,
                                "--dir", dir.resolve("tune").toString(), "--no-register"), null},
                        new Object[] {"infer the survey on the cluster", cmd(common, "infer", "--model", "ci-model", "--survey", survey.toString(),
                                "--out", dir.resolve("predictions").toString(), "--cluster", name, "--rows-per-shard", "20"), null},
                        new Object[] {"check the predictions with DuckDB", null, (Check) () -> checkOutputs(dir.resolve("predictions/shards"))});
                boolean failed = false;
                for (Object[] p : plan) {
                    String test = (String) p[0];
                    Path log = logs.resolve(test.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-") + ".log");
                    if (failed && failFast) {
                        steps.add(new Step(test, 0, null, null));
                        continue;
                    }
                    long t0 = System.nanoTime();
                    String failure = run(jars, (String[]) p[1], (Check) p[2], log);
                    Step s = new Step(test, (System.nanoTime() - t0) / 1e9, failure, log);
                    steps.add(s);
                    console.printf(Locale.ROOT, "%-40s %6.1f s  %s%n", test, s.seconds(), failure == null ? "passed" : "FAILED: " + failure);
                    console.flush();
                    failed |= failure != null;
                }
            } catch (RuntimeException e) {
                console.println("the suite could not run: " + e.getMessage());
            } finally {
                if (started[0] && !keepCluster) provider.stop(name);
            }
            boolean ok = !steps.isEmpty() && steps.stream().allMatch(s -> s.failure() == null && s.log() != null);
            Path junit = dir.resolve("junit.xml");
            Files.writeString(junit, junitXml(name, b, steps), StandardCharsets.UTF_8);
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("bundle", b.digest());
            summary.put("cluster", name);
            summary.put("passed", ok);
            summary.put("tests", steps.stream().map(s -> Map.of("name", s.name(), "seconds", s.seconds(), "result",
                    s.log() == null ? "skipped" : s.failure() == null ? "passed" : "failed: " + s.failure())).toList());
            summary.put("junit", junit.toString());
            summary.put("logs", logs.toString());
            Files.write(dir.resolve("summary.json"), Json.write(summary));
            bundles.status(b.digest(), ok ? Bundles.TESTED : Bundles.FAILED);
            console.printf("%n%s: %d of %d tests passed on cluster %s; bundle %s marked %s%n", ok ? "PASSED" : "FAILED",
                    steps.stream().filter(s -> s.failure() == null && s.log() != null).count(), steps.size(), name, b.shortDigest(), ok ? Bundles.TESTED : Bundles.FAILED);
            console.printf("junit       %s%nsummary     %s%nlogs        %s%n", junit, dir.resolve("summary.json"), logs);
            return ok ? 0 : 1;
        }

        /**
         * The run's cluster is named after 8 digits of the bundle's digest: one of that name made otherwise (by hand,
         * from another bundle) would run other jars, and their results must not mark this bundle. A setup error, so
         * nothing is marked.
         */
        private static void refuseOtherBundlesCluster(ClusterProvider provider, String name, Bundles.Bundle b) {
            ClusterStatus s;
            try {
                s = provider.status(name);
            } catch (dev.canopy.api.CanopyException e) {
                if (e.code().equals("cluster.unknown")) return;
                throw e;
            }
            if (!b.digest().equals(s.bundle())) {
                throw new dev.canopy.api.CanopyException("ci.cluster_mismatch", "cluster " + name + " runs " + (s.bundle() == null ? "the launcher's own jars"
                        : "bundle " + s.bundle()) + ", not " + b.digest(), "delete it (canopy cluster delete " + name + ") and run again");
            }
        }

        /** Starts the bundle's cluster unless it runs already; true if this run started it. */
        private boolean ensureCluster(ClusterProvider provider, String name, Bundles.Bundle b, PrintWriter console, boolean[] startedSoFar) {
            boolean started;
            ClusterStatus s;
            try {
                s = provider.status(name);
                started = !s.state().equals(ClusterStatus.RUNNING);
                if (started) s = provider.start(name);
                console.printf("cluster     %s (%s)%n", name, started ? "started again" : "reused, already running");
            } catch (dev.canopy.api.CanopyException e) {
                if (!e.code().equals("cluster.unknown")) throw e;
                s = provider.create(new ClusterSpec(name, workers, 1, "1g").withBundle(b.digest()));
                started = true;
                console.printf("cluster     %s (created from bundle %s)%n", name, b.shortDigest());
            }
            startedSoFar[0] = started; // stopped by the caller even if no worker comes
            long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(90);
            while (s.workersAlive() < Math.min(1, workers) || s.workersAlive() < s.workersWanted()) {
                if (System.nanoTime() > end) throw new IllegalStateException("cluster " + name + " has no worker alive after 90 s; see " + s.logs());
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while the cluster started", e);
                }
                s = provider.status(name);
            }
            return started;
        }

        private interface Check {
            String failure() throws Exception;
        }

        /** At most this long per test: a hung job fails its test instead of the whole run. */
        static final java.time.Duration STEP_TIMEOUT = java.time.Duration.ofMinutes(10);

        /**
         * Runs one test: its command line as a process of the bundle's jars (output to its log), then its check; the
         * failure, or null.
         */
        private String run(List<Path> jars, String[] args, Check check, Path log) {
            try {
                if (args != null) {
                    Files.writeString(log, "$ canopy " + String.join(" ", args) + "\n", StandardCharsets.UTF_8);
                    String cp = String.join(java.io.File.pathSeparator, jars.stream().map(Path::toString).toList());
                    List<String> cmd = new dev.canopy.control.DriverCommand(Path.of(System.getProperty("java.home"), "bin", "java").toString(), List.of("-Xmx1g"),
                            cp, dev.canopy.control.DriverCommand.MAIN, null).command("ci", parent.main.home().root(), List.of(args));
                    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
                    if (!p.waitFor(STEP_TIMEOUT.toMinutes(), java.util.concurrent.TimeUnit.MINUTES)) {
                        p.descendants().forEach(ProcessHandle::destroyForcibly);
                        p.destroyForcibly();
                        return "no end within " + STEP_TIMEOUT.toMinutes() + " minutes (see " + log + ")";
                    }
                    if (p.exitValue() != 0) return "exit code " + p.exitValue() + " (see " + log + ")";
                }
                String failure = check == null ? null : check.failure();
                if (failure != null) Files.writeString(log, "check failed: " + failure + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
                return failure;
            } catch (Exception e) {
                return e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        }

        private static String[] cmd(List<String> common, String... args) {
            List<String> all = new ArrayList<>(common);
            all.addAll(List.of(args));
            return all.toArray(String[]::new);
        }

        private static Path space(Path dir) throws java.io.IOException {
            Path f = dir.resolve("space.yaml");
            Files.writeString(f, "learning_rate: {loguniform: [0.001, 0.01]}\nbatch_size: 16\n");
            return f;
        }

        private String accuracyFloor(Main main, Path registry) {
            if (minValAccuracy <= 0) return null;
            dev.canopy.model.ModelRegistry r = new dev.canopy.model.ModelRegistry(new dev.canopy.storage.FileObjectStore(registry),
                    main.home().cache().resolve("models"), java.time.Clock.systemUTC());
            Double acc = r.resolve("ci-model").card().metrics().get("val_accuracy");
            return acc != null && acc >= minValAccuracy ? null : String.format(Locale.ROOT, "val_accuracy %.3f is below the floor %.3f", acc, minValAccuracy);
        }

        /** Every tile once, none failed, probabilities summing to 1: what any correct run of batch inference leaves. */
        static String checkOutputs(Path shards) throws Exception {
            try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
                 ResultSet rs = db.createStatement().executeQuery("SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE status <> 'ok'), "
                         + "max(abs(prob_native_grass + prob_invasive_weed + prob_shrub + prob_bare_soil + prob_water - 1)) FROM read_parquet('"
                         + shards.toString().replace("'", "''") + "/*.parquet')")) {
                rs.next();
                if (rs.getLong(1) != TILES) return rs.getLong(1) + " rows, not " + TILES;
                if (rs.getLong(2) != TILES) return (TILES - rs.getLong(2)) + " tiles written twice";
                if (rs.getLong(3) != 0) return rs.getLong(3) + " tiles failed";
                if (rs.getDouble(4) > 1e-3) return "probabilities sum to 1 within " + rs.getDouble(4) + ", not 0.001";
                return null;
            }
        }

        static String junitXml(String cluster, Bundles.Bundle b, List<Step> steps) {
            long failures = steps.stream().filter(s -> s.failure() != null).count();
            long skipped = steps.stream().filter(s -> s.log() == null).count();
            double total = steps.stream().mapToDouble(Step::seconds).sum();
            StringBuilder x = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            x.append(String.format(Locale.ROOT, "<testsuite name=\"canopy-ci\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">%n",
                    steps.size(), failures, skipped, total));
            x.append("  <properties><property name=\"bundle\" value=\"").append(esc(b.digest())).append("\"/><property name=\"cluster\" value=\"")
                    .append(esc(cluster)).append("\"/></properties>\n");
            for (Step s : steps) {
                x.append(String.format(Locale.ROOT, "  <testcase classname=\"canopy.pipeline\" name=\"%s\" time=\"%.3f\">", esc(s.name()), s.seconds()));
                if (s.log() == null) x.append("<skipped message=\"an earlier test failed (--fail-fast)\"/>");
                else if (s.failure() != null) x.append("<failure message=\"").append(esc(s.failure())).append("\">log: ").append(esc(s.log().toString())).append("</failure>");
                if (s.log() != null) x.append("<system-out>log: ").append(esc(s.log().toString())).append("</system-out>");
                x.append("</testcase>\n");
            }
            return x.append("</testsuite>\n").toString();
        }

        private static String esc(String s) {
            return s.replaceAll("[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]", "?").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
        }
    }
}
