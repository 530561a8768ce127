package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.client.CanopyClient;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code canopy predict}: asks the control plane for predictions over an area; {@code --wait} follows the job to its end. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Ask the control plane (canopy server) for a model's predictions over an area of a survey. Prints the job; "
                + "with --wait, follows it and prints the cover per class.")
final class PredictCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Mixin
    ServerOptions server;
    @Option(names = "--survey", required = true, description = "A registered survey's name (canopy jobs ... / GET /v1/surveys)")
    String survey;
    @Option(names = "--area", required = true, description = "GeoJSON file: Polygon, MultiPolygon, Feature or FeatureCollection in lon/lat")
    Path area;
    @Option(names = "--model", required = true, description = "NAME@STAGE or NAME:VERSION")
    String model;
    @Option(names = "--callback", description = "URL to send this job's webhooks to (signed; the secret is printed)")
    String callback;
    @Option(names = "--idempotency-key", description = "Resubmitting with the same key returns the same job (default: a new UUID)")
    String key;
    @Option(names = "--wait", description = "Follow the job until it ends; exit 1 if it fails")
    boolean await;
    @Option(names = "--timeout-min", defaultValue = "120", description = "Give up waiting after this many minutes (default: ${DEFAULT-VALUE})")
    int timeoutMin;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(area)) throw new UsageException("area file not found: " + area, "give a GeoJSON file with --area");
        CanopyClient c = server.client();
        JsonNode job = c.predict(survey, Files.readString(area), model, callback, key != null ? key : UUID.randomUUID().toString());
        PrintWriter out = spec.commandLine().getOut();
        String id = job.get("id").asText();
        out.printf("job         %s (%s, model %s)%n", id, job.get("status").asText(), job.path("model").asText());
        if (job.has("callback")) out.printf("callback    %s, signed with %s%n", job.get("callback").get("url").asText(), job.get("callback").get("secret").asText());
        out.flush();
        if (!await) return 0;
        JsonNode done = c.waitFor(id, Duration.ofMinutes(timeoutMin), j -> {
            JsonNode p = j.path("progress");
            if (p.isObject()) {
                System.err.printf("canopy: %s %s %d/%d tiles, %d errors%n", id, p.path("stage").asText(j.path("status").asText()), p.path("tilesDone").asLong(),
                        p.path("tilesPlanned").asLong(), p.path("errors").asLong());
            } else {
                System.err.printf("canopy: %s %s%n", id, j.path("status").asText());
            }
        });
        JobsCommand.print(out, done);
        return done.path("status").asText().equals("succeeded") ? 0 : 1;
    }

    static void printCover(PrintWriter out, JsonNode result) {
        JsonNode cover = result.path("cover");
        for (Iterator<Map.Entry<String, JsonNode>> it = cover.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            out.printf("  %-16s %6.1f%%  %10.3f ha%n", e.getKey(), e.getValue().path("percent").asDouble(), e.getValue().path("hectares").asDouble());
        }
    }
}
