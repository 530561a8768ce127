package dev.canopy.cli;

import dev.canopy.cluster.ClusterProvider;
import dev.canopy.cluster.ClusterSpec;
import dev.canopy.cluster.ClusterStatus;
import dev.canopy.cluster.LocalClusterProvider;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code canopy cluster create|list|status|start|scale|stop|delete}: Spark standalone clusters on this host. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"Create, inspect, resize, stop and delete Spark standalone clusters (a Master and Workers as processes on this host, "
                + "on 127.0.0.1). Each cluster's record and logs live under $CANOPY_HOME/clusters/NAME."},
        subcommands = {ClusterCommand.Create.class, ClusterCommand.ListClusters.class, ClusterCommand.Status.class, ClusterCommand.Start.class,
                ClusterCommand.Scale.class, ClusterCommand.Stop.class, ClusterCommand.Delete.class, ClusterCommand.Exec.class, WarmDriverCommand.class})
final class ClusterCommand {
    @ParentCommand
    Main main;

    ClusterProvider provider() {
        return provider(main);
    }

    static ClusterProvider provider(Main main) {
        dev.canopy.cluster.Bundles bundles = main.bundles();
        return LocalClusterProvider.ofThisJvm(main.home().dir("clusters"), Clock.systemUTC(), digest -> bundles.materialize(bundles.require(digest)));
    }

    /**
     * The Spark master a job runs on: the named cluster's (which must be running with a worker alive),
     * else {@code master} as given (null: local).
     */
    static String master(Main main, String cluster, String master) {
        if (cluster == null) return master;
        if (master != null) {
            throw new UsageException("--cluster and --master both name where to run", "pass one of them: --cluster NAME or --master spark://HOST:PORT");
        }
        ClusterProvider provider = provider(main);
        ClusterStatus s = provider.status(cluster);
        if (!s.state().equals(ClusterStatus.RUNNING)) {
            throw new UsageException("cluster '" + cluster + "' is " + s.state().toLowerCase(), "start it: canopy cluster start " + cluster);
        }
        if (s.workersAlive() == 0) {
            throw new UsageException("cluster '" + cluster + "' has no worker alive, so a job would wait forever",
                    "add workers: canopy cluster scale " + cluster + " --workers 2");
        }
        return join(provider, s);
    }

    /** The master URL of {@code s}, its drivers given what they need to run there (the secret of a cluster beyond loopback). */
    static String join(ClusterProvider provider, ClusterStatus s) {
        dev.canopy.spark.SparkSessions.trust(s.masterUrl(), provider.driverConf(s.name()));
        return s.masterUrl();
    }

    static void print(PrintWriter out, ClusterStatus s) {
        out.printf("cluster     %s  %s%n", s.name(), s.state());
        out.printf("master      %s  (web UI %s)%n", s.masterUrl(), s.uiUrl());
        out.printf("workers     %d alive of %d wanted; %d cores (%d used), %,d MB memory (%,d MB used)%n", s.workersAlive(), s.workersWanted(),
                s.cores(), s.coresUsed(), s.memoryMb(), s.memoryUsedMb());
        out.printf("running     %s%n", s.runningApplications().isEmpty() ? "no application" : String.join(", ", s.runningApplications()));
        out.printf("uptime      %s%n", s.uptime().isZero() ? "-" : s.uptime().withNanos(0).toString().substring(2).toLowerCase());
        out.printf("logs        %s%n", s.logs());
        out.printf("bundle      %s%n", s.bundle() == null ? "none (the launcher's own jars)" : s.bundle());
    }

    /** A subcommand that does one thing to the cluster it names and prints the cluster's state after. */
    /** A subcommand about one cluster, named first. */
    abstract static class Named implements Callable<Integer> {
        @ParentCommand
        ClusterCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
    }

    abstract static class OnOneCluster extends Named {

        abstract ClusterStatus apply(ClusterProvider provider, String name);

        @Override
        public Integer call() {
            print(spec.commandLine().getOut(), apply(parent.provider(), name));
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Start a new cluster and wait until its master answers.")
    static final class Create extends Named {
        @Option(names = "--workers", defaultValue = "2", description = "Workers (default: ${DEFAULT-VALUE})")
        int workers;
        @Option(names = "--worker-cores", defaultValue = "1", description = "Cores per worker (default: ${DEFAULT-VALUE})")
        int cores;
        @Option(names = "--worker-memory", defaultValue = "1g", description = "Memory per worker, at least 1g (an executor's memory), e.g. 1g or 4g (default: ${DEFAULT-VALUE})")
        String memory;
        @Option(names = "--bundle", description = "Start from this bundle (a digest, a digest prefix or a tag such as production): every process runs "
                + "exactly its jars (default: this launcher's own jars)")
        String bundle;

        @Override
        public Integer call() {
            ClusterSpec cs = new ClusterSpec(name, workers, cores, memory);
            if (bundle != null) {
                dev.canopy.cluster.Bundles.Bundle b = parent.main.bundles().require(bundle);
                spec.commandLine().getOut().printf("bundle      %s (%s, %d jars)%n", b.digest(), b.status(), b.jars().size());
                cs = cs.withBundle(b.digest());
            }
            ClusterStatus s = parent.provider().create(cs);
            print(spec.commandLine().getOut(), s);
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Every cluster, running or stopped.")
    static final class ListClusters implements Callable<Integer> {
        @ParentCommand
        ClusterCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.printf("%-20s %-8s %-9s %-6s %-26s %s%n", "NAME", "STATE", "WORKERS", "CORES", "MASTER", "APPS");
            for (ClusterStatus s : parent.provider().list()) {
                out.printf("%-20s %-8s %-9s %-6d %-26s %d%n", s.name(), s.state(), s.workersAlive() + "/" + s.workersWanted(), s.cores(), s.masterUrl(),
                        s.runningApplications().size());
            }
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Workers, cores, memory, running applications, UI address, uptime.")
    static final class Status extends OnOneCluster {
        @Override
        ClusterStatus apply(ClusterProvider provider, String name) {
            return provider.status(name);
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a stopped cluster again with its recorded size.")
    static final class Start extends OnOneCluster {
        @Override
        ClusterStatus apply(ClusterProvider provider, String name) {
            return provider.start(name);
        }
    }

    @Command(name = "scale", mixinStandardHelpOptions = true, description = "Add or remove workers of a running cluster.")
    static final class Scale implements Callable<Integer> {
        @ParentCommand
        ClusterCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Option(names = "--workers", required = true, description = "Workers wanted")
        int workers;

        @Override
        public Integer call() {
            print(spec.commandLine().getOut(), parent.provider().scale(name, workers));
            return 0;
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop every process of the cluster (checked); its record and logs stay.")
    static final class Stop extends OnOneCluster {
        @Override
        ClusterStatus apply(ClusterProvider provider, String name) {
            return provider.stop(name);
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Stop the cluster and remove its record and logs.")
    static final class Delete implements Callable<Integer> {
        @ParentCommand
        ClusterCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() {
            parent.provider().delete(name);
            spec.commandLine().getOut().printf("deleted cluster %s%n", name);
            return 0;
        }
    }

    /** {@code canopy cluster exec NAME -- infer|train|tune ...}: the same command, run on the named cluster. */
    @Command(name = "exec", mixinStandardHelpOptions = true,
            description = {"Run a Canopy job on a cluster: the command after -- gets --cluster NAME (infer, train and tune take it).",
                    "e.g. canopy cluster exec survey -- infer --model land-cover@production --survey ./canopy-data/surveys/demo --out ./canopy-data/jobs/x"})
    static final class Exec extends Named {
        static final java.util.Set<String> RUNS_ON_CLUSTERS = java.util.Set.of("infer", "train", "tune");
        @Parameters(index = "1..*", paramLabel = "COMMAND", description = "after --: a Canopy command and its options")
        java.util.List<String> command = new java.util.ArrayList<>();

        @Override
        public Integer call() {
            ClusterSpec.checkName(name);
            if (command.isEmpty() || !RUNS_ON_CLUSTERS.contains(command.get(0))) {
                throw new UsageException("exec runs one of " + new java.util.TreeSet<>(RUNS_ON_CLUSTERS) + ", not " + (command.isEmpty() ? "nothing" : "'" + command.get(0) + "'"),
                        "e.g. canopy cluster exec " + name + " -- infer --model land-cover@production --survey SURVEY --out OUT");
            }
            if (command.stream().anyMatch(a -> a.equals("--cluster") || a.equals("--master") || a.startsWith("--cluster=") || a.startsWith("--master="))) {
                throw new UsageException("the command names its own --cluster or --master", "leave them out: exec runs it on '" + name + "'");
            }
            ClusterStatus s = parent.provider().status(name); // an unknown cluster fails here, before the job starts
            spec.commandLine().getOut().printf("on cluster %s (%s)%n", name, s.masterUrl());
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("--home", parent.main.home().root().toString()));
            if (parent.main.noProgress) args.add("--no-progress");
            if (parent.main.registry != null) args.addAll(java.util.List.of("--registry", parent.main.registry));
            args.addAll(command);
            args.addAll(java.util.List.of("--cluster", name));
            return Main.run(args.toArray(String[]::new), spec.commandLine().getOut(), spec.commandLine().getErr());
        }
    }
}
