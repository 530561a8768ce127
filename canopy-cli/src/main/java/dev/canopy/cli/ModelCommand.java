package dev.canopy.cli;

import dev.canopy.model.ModelImporter;
import dev.canopy.model.ModelRegistry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "model", mixinStandardHelpOptions = true, description = "List, inspect, promote and import models in the registry.",
        subcommands = {ModelCommand.ListModels.class, ModelCommand.Show.class, ModelCommand.Promote.class, ModelCommand.Import.class})
final class ModelCommand {
    @ParentCommand
    Main main;

    static String metric(ModelRegistry.Version v, String key) {
        Double d = v.card().metrics().get(key);
        return d == null ? "-" : String.format("%.3f", d);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Every model with its latest and production versions.")
    static final class ListModels implements Callable<Integer> {
        @ParentCommand
        ModelCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            ModelRegistry r = parent.main.registry();
            PrintWriter out = spec.commandLine().getOut();
            List<String> names = r.names();
            if (names.isEmpty()) {
                out.println("no models yet in " + r.store().root() + " (canopy train or canopy model import adds one)");
                return 0;
            }
            out.printf("%-24s %8s %10s %12s  %s%n", "NAME", "VERSIONS", "LATEST", "PRODUCTION", "VAL_ACC(latest)");
            for (String n : names) {
                List<ModelRegistry.Version> vs = r.versions(n);
                ModelRegistry.Version last = vs.get(vs.size() - 1);
                String prod = vs.stream().filter(v -> v.stage().equals("production")).map(v -> Integer.toString(v.version())).findFirst().orElse("-");
                out.printf("%-24s %8d %10d %12s  %s%n", n, vs.size(), last.version(), prod, metric(last, "val_accuracy"));
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Versions of one model, or one version's card (NAME:VERSION).")
    static final class Show implements Callable<Integer> {
        @ParentCommand
        ModelCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", description = "NAME, NAME:VERSION or NAME@STAGE")
        String ref;

        @Override
        public Integer call() throws Exception {
            ModelRegistry r = parent.main.registry();
            PrintWriter out = spec.commandLine().getOut();
            if (ref.contains(":") || ref.contains("@")) {
                ModelRegistry.Version v = r.resolve(ref);
                out.printf("%s (stage %s, registered %s)%n", v.ref(), v.stage(), v.registeredAt());
                out.println(dev.canopy.api.Json.MAPPER.writeValueAsString(v.card()));
                return 0;
            }
            List<ModelRegistry.Version> vs = r.versions(ModelRegistry.checkName(ref));
            if (vs.isEmpty()) {
                throw new dev.canopy.model.RegistryException(dev.canopy.model.RegistryException.Kind.UNKNOWN_MODEL, "no model named '" + ref + "'", "'canopy model list' shows what exists");
            }
            out.printf("%-8s %-11s %-12s %-10s %6s %8s %8s  %s%n", "VERSION", "STAGE", "FORMAT", "ARCH", "INPUT", "VAL_ACC", "MACRO_F1", "REGISTERED");
            for (ModelRegistry.Version v : vs) {
                out.printf("%-8d %-11s %-12s %-10s %6d %8s %8s  %s%n", v.version(), v.stage(), v.card().format(), v.card().architecture(),
                        v.card().inputSize(), metric(v, "val_accuracy"), metric(v, "val_macro_f1"), v.registeredAt());
            }
            return 0;
        }
    }

    @Command(name = "promote", mixinStandardHelpOptions = true, description = "Move a version to a stage: none, staging or production.")
    static final class Promote implements Callable<Integer> {
        @ParentCommand
        ModelCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", description = "NAME:VERSION")
        String ref;
        @Parameters(index = "1", description = "none, staging or production")
        String stage;

        @Override
        public Integer call() {
            ModelRegistry r = parent.main.registry();
            if (!ref.matches("[^:@]+:\\d+")) throw new UsageException("promote needs NAME:VERSION, got '" + ref + "'", "e.g. canopy model promote land-cover:3 production");
            ModelRegistry.Version v = r.resolve(ref);
            ModelRegistry.Version after = r.promote(v.name(), v.version(), stage);
            spec.commandLine().getOut().printf("%s is now in stage %s%n", after.ref(), after.stage());
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Register a model trained elsewhere: a TorchScript .pt or ONNX .onnx file plus a JSON metadata file "
                    + "({\"classes\": [...], \"input_size\": N, \"mean\": [r,g,b], \"std\": [r,g,b]}).")
    static final class Import implements Callable<Integer> {
        @ParentCommand
        ModelCommand parent;
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--name", required = true, description = "Registry name")
        String name;
        @Option(names = "--file", required = true, description = "Model file: TorchScript (.pt) or ONNX (.onnx)")
        Path file;
        @Option(names = "--metadata", required = true, description = "JSON metadata: classes, input_size, optional mean/std")
        Path metadata;

        @Override
        public Integer call() {
            ModelRegistry.Version v = ModelImporter.importModel(parent.main.registry(), name, file, metadata);
            spec.commandLine().getOut().printf("imported %s as %s (%s, %d classes, %d px)%n", file, v.ref(), v.card().format(),
                    v.card().classes().size(), v.card().inputSize());
            return 0;
        }
    }
}
