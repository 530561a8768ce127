package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.serve.ApiError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Tuning experiments, read-only from their folders: the operator's under {@code home/tune/NAME} (shared with every
 * team) and each retrain job's under its job folder (its team's). An experiment's trials come with their curves
 * (the objective per iteration), where stopped trials ended, the best trial and the compute the scheduler saved.
 */
final class Experiments {
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final Path home;
    private final Jobs jobs;

    Experiments(Path home, Jobs jobs) {
        this.home = home;
        this.jobs = jobs;
    }

    /** Summaries: shared experiments first (by name), then the caller's retrain jobs' (newest first). */
    List<Map<String, Object>> list(Principals.Caller caller) {
        List<Map<String, Object>> out = new ArrayList<>();
        Path tune = home.resolve("tune");
        if (Files.isDirectory(tune)) {
            try (var dirs = Files.list(tune)) {
                for (Path d : dirs.sorted().toList()) {
                    String name = d.getFileName().toString();
                    if (NAME.matcher(name).matches() && Files.isRegularFile(d.resolve("experiment.json"))) out.add(withRefined(summary(name, null, read(d)), d));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        String cursor = null;
        do {
            Page<Jobs.Job> p = jobs.list(new Jobs.Filter(caller.seesAll() ? null : caller.team(), "retrain", null, null), cursor, Page.MAX_LIMIT);
            for (Jobs.Job j : p.items()) {
                Path d = Path.of(j.folder()).resolve("tune");
                if (Files.isRegularFile(d.resolve("experiment.json"))) out.add(withRefined(summary(j.id(), j.id(), read(d)), d));
            }
            cursor = p.nextCursor();
        } while (cursor != null);
        return out;
    }

    /** One experiment by id: a folder name under {@code home/tune}, or a retrain job's id. */
    Map<String, Object> show(String id, Principals.Caller caller) {
        Path dir;
        String job = null;
        if (Ids.looksLike("job", id)) {
            Jobs.Job j = jobs.get(id).filter(x -> caller.sees(x.team())).orElseThrow(() -> notFound(id));
            dir = Path.of(j.folder()).resolve("tune");
            job = j.id();
        } else if (id != null && NAME.matcher(id).matches()) {
            dir = home.resolve("tune").resolve(id);
        } else {
            throw notFound(id);
        }
        if (!Files.isRegularFile(dir.resolve("experiment.json"))) throw notFound(id);
        Map<String, Object> m = detail(id, job, read(dir));
        // coarse then fine (--refine): the second, narrowed search lives in stage-2 of its coarse parent
        Path fine = dir.resolve(REFINED);
        if (Files.isRegularFile(fine.resolve("experiment.json"))) m.put("refined", detail(id + "/" + REFINED, job, read(fine)));
        return m;
    }

    static final String REFINED = "stage-2";

    private static Map<String, Object> detail(String id, String job, JsonNode e) {
        Map<String, Object> m = summary(id, job, e);
        m.put("spec", e.path("spec"));
        String metric = e.path("spec").path("metric").asText("val_accuracy");
        List<Map<String, Object>> trials = new ArrayList<>();
        for (JsonNode t : e.path("trials")) {
            Map<String, Object> tm = new LinkedHashMap<>();
            tm.put("id", t.path("id").asText());
            tm.put("config", t.path("config"));
            tm.put("status", t.path("status").asText().toLowerCase(java.util.Locale.ROOT));
            List<List<Double>> curve = new ArrayList<>();
            for (JsonNode r : t.path("results")) {
                JsonNode v = r.path("metrics").path(metric);
                if (v.isNumber()) curve.add(List.of(r.path("iteration").asDouble(), v.asDouble()));
            }
            tm.put("curve", curve); // [iteration, metric] pairs: where a stopped trial's curve ends is where it stopped
            tm.put("iterations", curve.size());
            trials.add(tm);
        }
        m.put("trials", trials);
        return m;
    }

    private static Map<String, Object> withRefined(Map<String, Object> summary, Path dir) {
        summary.put("refined", Files.isRegularFile(dir.resolve(REFINED).resolve("experiment.json")));
        return summary;
    }

    private static Map<String, Object> summary(String id, String job, JsonNode e) {
        JsonNode spec = e.path("spec");
        String metric = spec.path("metric").asText("val_accuracy");
        boolean max = !spec.path("mode").asText("max").equals("min");
        int maxT = spec.path("max_t").asInt(0);
        long used = 0;
        int trials = 0, stopped = 0;
        String bestTrial = null;
        Double best = null;
        for (JsonNode t : e.path("trials")) {
            trials++;
            JsonNode results = t.path("results");
            used += results.size();
            if (t.path("status").asText().equals("STOPPED")) stopped++;
            if (results.size() > 0) {
                JsonNode v = results.get(results.size() - 1).path("metrics").path(metric);
                if (v.isNumber() && (best == null || (max ? v.asDouble() > best : v.asDouble() < best))) {
                    best = v.asDouble();
                    bestTrial = t.path("id").asText();
                }
            }
        }
        long full = (long) trials * maxT;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("job_id", job);
        m.put("status", e.path("status").asText());
        m.put("scheduler", spec.path("scheduler").asText());
        m.put("metric", metric);
        m.put("mode", max ? "max" : "min");
        m.put("max_t", maxT);
        m.put("trials", trials);
        m.put("stopped", stopped);
        m.put("best_trial", bestTrial);
        m.put("best", best);
        m.put("cost", Map.of("trial_iterations", used, "if_every_trial_ran_to_max_t", full,
                "saved_percent", full == 0 ? 0.0 : Math.round(1000.0 * (full - used) / full) / 10.0));
        return m;
    }

    private static JsonNode read(Path dir) {
        try {
            return Json.MAPPER.readTree(Files.readAllBytes(dir.resolve("experiment.json")));
        } catch (IOException e) {
            throw new ApiError(500, "internal", "an experiment's record cannot be read; the server log has the details");
        }
    }

    private static ApiError notFound(String id) {
        return new ApiError(404, "experiment_not_found", "no experiment '" + Page.abbreviate(String.valueOf(id)) + "'; list them with GET /v1/experiments");
    }
}
