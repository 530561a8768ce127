package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.batch.BatchInference;
import dev.canopy.api.Json;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.tune.Experiment;
import dev.canopy.tune.ExperimentState;
import dev.canopy.tune.Trial;
import java.io.PrintWriter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The state of any job folder: a training run, a tuning experiment or a batch inference output. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the state of a job folder: a training run (train), an experiment (tune) or an inference output (infer).")
final class StatusCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Parameters(index = "0", description = "The folder printed when the job started (path, file:// or s3://)")
    String location;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (ObjectStore s = ObjectStores.open(location)) {
            if (s.exists(Experiment.STATE)) {
                ExperimentState st = Experiment.load(s);
                Map<String, Integer> byStatus = new TreeMap<>();
                for (Trial t : st.trials) byStatus.merge(t.getStatus().name().toLowerCase(), 1, Integer::sum);
                out.printf("tune experiment %s: %s; %d trials %s; %d results%n", s.root(), st.status, st.trials.size(), byStatus, st.events.size());
                return 0;
            }
            if (s.exists("status.json") && s.exists("config.json")) {
                JsonNode j = Json.MAPPER.readTree(s.get("status.json"));
                out.printf("training run %s: %s at epoch %d of %d (updated %s)%s%n", s.root(), j.path("state").asText(), j.path("epoch").asInt(),
                        j.path("epochs").asInt(), j.path("updatedAt").asText(), j.has("error") ? "; error: " + j.get("error").asText() : "");
                return 0;
            }
            if (s.exists(BatchInference.JOB)) {
                JsonNode job = Json.MAPPER.readTree(s.get(BatchInference.JOB));
                long committed;
                try (var markers = s.listAll("_committed/")) {
                    committed = markers.count();
                }
                if (s.exists(BatchInference.SUMMARY)) {
                    BatchInference.Summary sum = BatchInference.readSummary(s);
                    out.printf("inference %s: %s; %,d tiles (%,d ok, %,d errors), %d of %d shards committed%n", s.root(), sum.status(), sum.rows(),
                            sum.ok(), sum.errors(), committed, job.path("shards").asInt());
                } else if (s.exists(dev.canopy.batch.JobProgress.FILE)) {
                    out.println(live(s.root().toString(), Json.MAPPER.readValue(s.get(dev.canopy.batch.JobProgress.FILE), dev.canopy.batch.JobProgress.class),
                            committed, java.time.Instant.now()));
                } else {
                    out.printf("inference %s: running or interrupted; %d of %d shards committed (continue with --resume)%n", s.root(), committed,
                            job.path("shards").asInt());
                }
                return 0;
            }
            throw new UsageException("no job found at " + s.root(), "give a folder printed by canopy train, tune or infer");
        }
    }

    /** How long without an update before a running job's driver is presumed gone. */
    static final java.time.Duration STALE = java.time.Duration.ofSeconds(30);

    /** One line from a job's live progress: tiles, rate, ETA, and whether its driver still updates it. */
    static String live(String root, dev.canopy.batch.JobProgress p, long committed, java.time.Instant now) {
        long age = java.time.Duration.between(p.updatedAt(), now).toSeconds();
        String pct = p.tilesPlanned() > 0 ? String.format(" (%.1f%%)", 100.0 * p.tilesDone() / p.tilesPlanned()) : "";
        String eta = p.etaSeconds() == null ? "" : ", ETA " + InferCommand.duration(p.etaSeconds());
        boolean finalStage = p.stage().equals("succeeded") || p.stage().equals("failed") || p.stage().equals("stopped");
        String state = !finalStage && age > STALE.toSeconds()
                ? "interrupted? (no update for " + age + " s: continue with --resume)" : p.stage();
        return String.format("inference %s: %s; %,d of %,d tiles%s, %,d errors, %.0f tiles/s%s; %d of %d shards committed; updated %d s ago%s", root,
                state, p.tilesDone(), p.tilesPlanned(), pct, p.errors(), p.tilesPerSecond(), eta, committed, p.shards(), age,
                p.message() == null ? "" : "; " + p.message());
    }
}
