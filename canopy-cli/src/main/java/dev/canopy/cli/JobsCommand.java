package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.client.CanopyClient;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code canopy jobs list|show|cancel|logs}: the control plane's jobs. */
@Command(name = "jobs", mixinStandardHelpOptions = true, description = "List, show, cancel and read the logs of the control plane's jobs.",
        subcommands = {JobsCommand.ListJobs.class, JobsCommand.Show.class, JobsCommand.Cancel.class, JobsCommand.Logs.class})
final class JobsCommand {
    static void print(PrintWriter out, JsonNode j) {
        out.printf("job         %s  %s  %s  model %s%n", j.path("id").asText(), j.path("kind").asText(), j.path("status").asText(), j.path("model").asText());
        JsonNode p = j.path("progress");
        boolean ended = List.of("succeeded", "failed", "cancelled").contains(j.path("status").asText());
        if (p.isObject() && !ended) {
            out.printf("progress    %s: %,d of %,d tiles, %,d errors, %.0f tiles/s%n", p.path("stage").asText(), p.path("tilesDone").asLong(),
                    p.path("tilesPlanned").asLong(), p.path("errors").asLong(), p.path("tilesPerSecond").asDouble());
        }
        JsonNode r = j.path("result");
        if (r.isObject()) {
            out.printf("result      %,d tiles (%,d errors) over %.3f ha in %.1f s%n", r.path("tiles").asLong(), r.path("errors").asLong(),
                    r.path("area_hectares").asDouble(), r.path("seconds").asDouble());
            out.println("cover");
            PredictCommand.printCover(out, r);
            out.printf("geoparquet  %s%n", r.path("geoparquet").asText());
        }
        if (j.hasNonNull("error")) out.printf("error       %s%n", j.get("error").asText());
        out.printf("log         %s (canopy jobs logs %s)%n", j.path("log").asText(), j.path("id").asText());
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Jobs, newest first.")
    static final class ListJobs implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Option(names = "--kind", description = "prediction or retrain")
        String kind;
        @Option(names = "--status", description = "queued, running, succeeded, failed or cancelled")
        String status;
        @Option(names = "--model", description = "NAME or NAME:VERSION")
        String model;
        @Option(names = "--limit", defaultValue = "20", description = "How many (default: ${DEFAULT-VALUE})")
        int limit;

        @Override
        public Integer call() {
            JsonNode page = server.client().jobs(kind, status, model, null, limit);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("%-22s %-10s %-10s %-20s %s%n", "ID", "KIND", "STATUS", "MODEL", "CREATED");
            for (JsonNode j : page.path("items")) {
                out.printf("%-22s %-10s %-10s %-20s %s%n", j.path("id").asText(), j.path("kind").asText(), j.path("status").asText(),
                        j.path("model").asText(), j.path("created_at").asText());
            }
            if (page.hasNonNull("next_cursor")) out.println("(more: raise --limit)");
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "A job's status, progress, result and log address.")
    static final class Show implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "Job id")
        String id;

        @Override
        public Integer call() {
            print(spec.commandLine().getOut(), server.client().job(id));
            return 0;
        }
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true, description = "Cancel a job (a running one stops within seconds).")
    static final class Cancel implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "Job id")
        String id;

        @Override
        public Integer call() {
            JsonNode j = server.client().cancel(id);
            spec.commandLine().getOut().printf("job %s: %s%n", id, j.path("status").asText().equals("cancelled") ? "cancelled" : "stopping");
            return 0;
        }
    }

    @Command(name = "logs", mixinStandardHelpOptions = true, description = "A job's driver log; --follow keeps printing until the job ends.")
    static final class Logs implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Parameters(index = "0", description = "Job id")
        String id;
        @Option(names = {"-f", "--follow"}, description = "Keep printing new lines until the job ends")
        boolean follow;

        @Override
        public Integer call() throws InterruptedException {
            CanopyClient c = server.client();
            PrintWriter out = spec.commandLine().getOut();
            long offset = 0;
            while (true) {
                String[] chunk = c.logs(id, offset);
                out.print(chunk[0]);
                out.flush();
                offset += chunk[0].getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (offset < Long.parseLong(chunk[1])) continue;
                if (!follow) return 0;
                String s = c.job(id).path("status").asText();
                if (s.equals("succeeded") || s.equals("failed") || s.equals("cancelled")) {
                    String[] last = c.logs(id, offset);
                    out.print(last[0]);
                    out.flush();
                    return 0;
                }
                Thread.sleep(1000);
            }
        }
    }
}
