package dev.canopy.cli;

import dev.canopy.cluster.Bundles;
import java.io.File;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code canopy bundle build|list|show|tag|status}: the content-addressed application images clusters start from. */
@Command(name = "bundle", mixinStandardHelpOptions = true,
        description = {"Bundles: Canopy's jars, its dependencies' and Spark's, stored content-addressed ($CANOPY_BUNDLES or HOME/bundles). "
                + "A cluster created with --bundle runs exactly those jars; 'canopy server' runs its jobs from the bundle tagged production."},
        subcommands = {BundleCommand.Build.class, BundleCommand.ListBundles.class, BundleCommand.Show.class, BundleCommand.Tag.class, BundleCommand.Status.class})
final class BundleCommand {
    @ParentCommand
    Main main;

    static void print(PrintWriter out, Bundles.Bundle b) {
        long bytes = b.jars().stream().mapToLong(Bundles.Jar::size).sum();
        out.printf("bundle      %s%n", b.digest());
        out.printf("status      %s%s%n", b.status(), b.tags().isEmpty() ? "" : "  tags " + String.join(", ", b.tags()));
        out.printf("jars        %d (%.0f MB)%n", b.jars().size(), bytes / 1e6);
        out.printf("built       %s from %s%n", b.createdAt(), b.source());
    }

    /** This launcher's class path: what {@code ./canopy} runs (jars), or a test's (jars and class folders). */
    static List<Path> ownClassPath() {
        return Stream.of(System.getProperty("java.class.path").split(File.pathSeparator)).filter(e -> !e.isBlank()).map(Path::of).toList();
    }

    @Command(name = "build", mixinStandardHelpOptions = true, description = "Make a bundle of this Canopy build (its class path); jars already stored are not stored again.")
    static final class Build implements Callable<Integer> {
        @ParentCommand
        BundleCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--tag", description = "Tag it (e.g. production); the tag leaves the bundle that had it")
        String tag;

        @Override
        public Integer call() {
            Bundles bundles = parent.main.bundles();
            long t0 = System.nanoTime();
            Bundles.Bundle b = bundles.build(ownClassPath(), Map.of("java", System.getProperty("java.specification.version"), "code", dev.canopy.api.CodeVersion.get()),
                    "canopy bundle build on " + hostName());
            if (tag != null) b = bundles.tag(b.digest(), tag);
            print(spec.commandLine().getOut(), b);
            spec.commandLine().getOut().printf("took        %.1f s%n", (System.nanoTime() - t0) / 1e9);
            return 0;
        }
    }

    static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "this host";
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Every bundle, newest first.")
    static final class ListBundles implements Callable<Integer> {
        @ParentCommand
        BundleCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            List<Bundles.Bundle> all = parent.main.bundles().list();
            if (all.isEmpty()) out.println("no bundle yet: canopy bundle build --tag production");
            for (Bundles.Bundle b : all) {
                out.printf("%-24s %-7s %4d jars  %s  %s%n", b.shortDigest(), b.status(), b.jars().size(), b.createdAt(), String.join(",", b.tags()));
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One bundle and its jars.")
    static final class Show implements Callable<Integer> {
        @ParentCommand
        BundleCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUNDLE", description = "digest, digest prefix or tag")
        String ref;

        @Override
        public Integer call() {
            Bundles.Bundle b = parent.main.bundles().require(ref);
            PrintWriter out = spec.commandLine().getOut();
            print(out, b);
            for (Bundles.Jar j : b.jars()) out.printf("  %-60s %s  %,d bytes%n", j.name(), j.sha256().substring(0, 12), j.size());
            return 0;
        }
    }

    /** A change to one bundle's record (a tag, a status), printed as the bundle now stands. */
    abstract static class Change implements Callable<Integer> {
        @ParentCommand
        BundleCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUNDLE", description = "A digest, a unique prefix of one, or a tag")
        String ref;

        abstract Bundles.Bundle apply(Bundles bundles);

        @Override
        public Integer call() {
            print(spec.commandLine().getOut(), apply(parent.main.bundles()));
            return 0;
        }
    }

    @Command(name = "tag", mixinStandardHelpOptions = true, description = "Tag a bundle (the tag moves from the bundle that had it).")
    static final class Tag extends Change {
        @Parameters(index = "1", paramLabel = "TAG")
        String tag;

        @Override
        Bundles.Bundle apply(Bundles bundles) {
            return bundles.tag(ref, tag);
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Record a bundle's status: built, tested or failed.")
    static final class Status extends Change {
        @Parameters(index = "1", paramLabel = "STATUS")
        String status;

        @Override
        Bundles.Bundle apply(Bundles bundles) {
            return bundles.status(ref, status);
        }
    }
}
