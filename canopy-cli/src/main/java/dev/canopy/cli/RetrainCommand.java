package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.canopy.api.Json;
import dev.canopy.client.CanopyClient;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code canopy retrain}: asks the control plane to retrain a model on labels; {@code --wait} follows it to the gate's decision. */
@Command(name = "retrain", mixinStandardHelpOptions = true,
        description = "Retrain a model on the control plane's labels: export, features (spatial split), selection with the tuner, validation "
                + "against production, registration; the gate promotes the candidate only when it beats production by --margin (macro F1).")
final class RetrainCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Mixin
    ServerOptions server;
    @Option(names = "--model", required = true, description = "Model name to register the candidate under")
    String model;
    @Option(names = "--survey", required = true, description = "The survey the labels belong to")
    String survey;
    @Option(names = "--from", description = "Labels made at or after this time (ISO-8601)")
    String from;
    @Option(names = "--to", description = "Labels made before this time (ISO-8601)")
    String to;
    @Option(names = "--annotator", description = "Only this annotator's labels")
    String annotator;
    @Option(names = "--classes", split = ",", description = "Only these classes")
    List<String> classes;
    @Option(names = "--space", description = "Search space file (YAML), as for canopy tune (default: learning rate and batch size)")
    Path space;
    @Option(names = "--trials", defaultValue = "2", description = "Tuning trials (default: ${DEFAULT-VALUE})")
    int trials;
    @Option(names = "--epochs", defaultValue = "2", description = "Epochs per trial and for the final model (default: ${DEFAULT-VALUE})")
    int epochs;
    @Option(names = "--margin", defaultValue = "0.01", description = "Macro F1 the candidate must gain over production to be promoted (default: ${DEFAULT-VALUE})")
    double margin;
    @Option(names = "--block-size", defaultValue = "8", description = "Spatial split blocks of N x N tiles (default: ${DEFAULT-VALUE})")
    int block;
    @Option(names = "--wait", description = "Follow the job until it ends; exit 1 if it fails")
    boolean await;

    @Override
    public Integer call() throws Exception {
        ObjectNode body = Json.MAPPER.createObjectNode().put("model", model).put("survey", survey).put("margin", margin).put("block_size", block);
        ObjectNode q = body.putObject("labels");
        if (from != null) q.put("from", from);
        if (to != null) q.put("to", to);
        if (annotator != null) q.put("annotator", annotator);
        if (classes != null) classes.forEach(q.putArray("classes")::add);
        if (space != null) {
            if (!Files.isRegularFile(space)) throw new UsageException("search space file not found: " + space, "give a YAML file with --space");
            body.put("search_space", Files.readString(space));
        }
        body.putObject("budget").put("trials", trials).put("epochs", epochs);
        CanopyClient c = server.client();
        JsonNode job = c.retrain(body, UUID.randomUUID().toString());
        PrintWriter out = spec.commandLine().getOut();
        String id = job.get("id").asText();
        out.printf("job         %s (%s)%n", id, job.get("status").asText());
        out.flush();
        if (!await) return 0;
        JsonNode done = c.waitFor(id, Duration.ofHours(12), j -> System.err.printf("canopy: %s %s %s%n", id, j.path("status").asText(),
                j.path("progress").path("stage").asText("")));
        JobsCommand.print(out, done);
        JsonNode r = done.path("result");
        if (r.isObject()) out.printf("candidate   %s: %s (%s)%n", r.path("candidate").asText(), r.path("decision").asText(), r.path("gate").path("reason").asText());
        return done.path("status").asText().equals("succeeded") ? 0 : 1;
    }
}
