package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code canopy models show|approve|reject|rollback}: the control plane's model approvals (admin token for changes). */
@Command(name = "models", mixinStandardHelpOptions = true, description = "Model versions, approvals and stages on the control plane.",
        subcommands = {ModelsCommand.Show.class, ModelsCommand.Approve.class, ModelsCommand.Reject.class, ModelsCommand.Rollback.class})
final class ModelsCommand {
    static int[] ref(String ref) {
        String[] p = ref.split(":", 2);
        if (p.length != 2 || !p[1].matches("\\d{1,9}")) throw new UsageException("'" + ref + "' is not NAME:VERSION", "write e.g. weeds:3");
        return new int[] {Integer.parseInt(p[1])};
    }

    static void print(picocli.CommandLine.Model.CommandSpec spec, JsonNode v) {
        spec.commandLine().getOut().printf("%s  stage %s  approval %s%s%n", v.path("ref").asText(), v.path("stage").asText(), v.path("approval").asText(),
                v.hasNonNull("approval_reason") ? "  (" + v.get("approval_reason").asText() + ")" : "");
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Versions with approval, stage and gate metrics.")
    static final class Show implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "Model name")
        String name;

        @Override
        public Integer call() {
            for (JsonNode v : server.client().model(name).path("versions")) print(spec, v);
            return 0;
        }
    }

    @Command(name = "approve", mixinStandardHelpOptions = true, description = "Approve NAME:VERSION and promote it to production.")
    static final class Approve implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "NAME:VERSION")
        String ref;
        @Option(names = "--reason", description = "Why, for the audit log")
        String reason;

        @Override
        public Integer call() {
            int v = ref(ref)[0];
            print(spec, server.client().approve(ref.substring(0, ref.indexOf(':')), v, reason));
            return 0;
        }
    }

    @Command(name = "reject", mixinStandardHelpOptions = true, description = "Reject NAME:VERSION; production stays as it is.")
    static final class Reject implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "NAME:VERSION")
        String ref;
        @Option(names = "--reason", description = "Why, for the audit log")
        String reason;

        @Override
        public Integer call() {
            int v = ref(ref)[0];
            print(spec, server.client().reject(ref.substring(0, ref.indexOf(':')), v, reason));
            return 0;
        }
    }

    @Command(name = "rollback", mixinStandardHelpOptions = true, description = "Move a stage back to the version it held before.")
    static final class Rollback implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "Model name")
        String name;
        @Option(names = "--stage", defaultValue = "production", description = "staging or production (default: ${DEFAULT-VALUE})")
        String stage;

        @Override
        public Integer call() {
            print(spec, server.client().rollback(name, stage));
            return 0;
        }
    }
}
