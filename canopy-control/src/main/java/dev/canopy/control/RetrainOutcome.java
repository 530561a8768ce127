package dev.canopy.control;

import dev.canopy.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The server's side of a retrain job: before the driver starts, the labels the request selects are exported
 * from the database to {@code retrain.json} in the job folder (once: a resumed job trains on the same
 * snapshot); when the driver has finished, its {@code retrain-result.json} is turned into the candidate's
 * approval record and the gate's decision.
 */
final class RetrainOutcome {
    static final String INPUT = "retrain.json";
    static final String RESULT = "retrain-result.json";
    static final int MAX_LABELS = 1_000_000;

    private RetrainOutcome() { }

    static void exportLabels(Jobs.Job j, Path folder, Labels labels) throws IOException {
        Path input = folder.resolve(INPUT);
        if (Files.exists(input)) return;
        Map<String, Object> req = j.request();
        @SuppressWarnings("unchecked")
        Map<String, Object> q = (Map<String, Object>) req.getOrDefault("labels", Map.of());
        @SuppressWarnings("unchecked")
        List<String> classes = (List<String>) q.get("classes");
        Labels.Query query = new Labels.Query((String) req.get("survey"), q.get("from") == null ? null : Instant.parse((String) q.get("from")),
                q.get("to") == null ? null : Instant.parse((String) q.get("to")), (String) q.get("annotator"), classes);
        List<Map<String, Object>> out = new ArrayList<>();
        long after = 0;
        while (true) {
            List<Labels.Label> page = labels.query(j.team(), query, after, 10_000);
            for (Labels.Label l : page) out.add(l.toJson());
            if (page.size() < 10_000) break;
            after = page.get(page.size() - 1).id();
            if (out.size() > MAX_LABELS) throw new IllegalStateException("more than " + MAX_LABELS + " labels match; narrow the query");
        }
        Map<String, Object> snapshot = new LinkedHashMap<>(req);
        snapshot.put("job_id", j.id());
        snapshot.put("label_rows", out);
        snapshot.put("exported_at", Instant.now().toString());
        Path tmp = folder.resolve(INPUT + ".tmp");
        Files.write(tmp, Json.write(snapshot));
        Files.move(tmp, input, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Applies the driver's decision: the candidate's approval row, then promote or reject; returns the job's result. */
    static Map<String, Object> apply(Jobs.Job j, Path folder, Models models) {
        Map<String, Object> r;
        try {
            r = Jsonb.map(Files.readString(folder.resolve(JobSupervisor.OUTPUT).resolve(RESULT)));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("the retrain driver wrote no " + RESULT, e);
        }
        String name = (String) r.get("model");
        int version = ((Number) r.get("candidate_version")).intValue();
        String decision = (String) r.get("decision");
        @SuppressWarnings("unchecked")
        Map<String, Object> gate = (Map<String, Object>) r.getOrDefault("gate", Map.of());
        Sql.tx(models.db(), "record a retrain candidate", c -> {
            models.recordCandidate(c, name, version, gate, j.id());
            return null;
        });
        String actor = "retrain:" + j.id();
        // applied once; a take-over that repeats this finds the decision made. It only repairs what a crash between the
        // database and the registry may have left: its own promotion, if production has not moved since
        java.util.Optional<Models.Approval> made = models.approval(name, version);
        if (made.isPresent() && !made.get().status().equals("pending")) {
            if (made.get().status().equals("approved") && actor.equals(made.get().decidedBy())) models.repairPromotion(name, version);
            return r;
        }
        switch (decision) {
            case "promote" -> models.decide(name, version, "approved", actor, String.valueOf(gate.get("reason")), true);
            case "reject" -> models.decide(name, version, "rejected", actor, String.valueOf(gate.get("reason")), false);
            default -> { } // pending: waits for an explicit approve
        }
        return r;
    }
}
