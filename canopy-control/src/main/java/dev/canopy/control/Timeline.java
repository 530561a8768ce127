package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A prediction job's throughput over time, from what batch inference leaves in its output: every committed
 * shard's marker ({@code _committed/part-N.json}, its rows; the file's time is the commit's time) and the
 * job's start ({@code progress.json}). Points are {@code [seconds since start, tiles done]}, in commit order,
 * so a running job's curve grows as shards commit. Stages are the summary's mean milliseconds per call (one fetch, one decode, one model batch).
 */
final class Timeline {
    /** More points than a chart can show apart: beyond this, every k-th commit is kept (and the last). */
    static final int MAX_POINTS = 2_000;

    private Timeline() { }

    static Map<String, Object> of(Jobs.Job j) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", j.id());
        Path out = j.outputDir();
        Instant start = j.startedAt();
        JsonNode progress = read(out.resolve("progress.json"));
        if (progress != null && progress.path("startedAt").isTextual()) {
            try {
                start = Instant.parse(progress.path("startedAt").asText());
            } catch (java.time.format.DateTimeParseException ignored) {
                // keep the row's start
            }
        }
        m.put("started_at", start == null ? null : start.toString());
        List<long[]> commits = new ArrayList<>(); // [millis, rows]
        Path committed = out.resolve("_committed");
        if (Files.isDirectory(committed)) {
            try (var files = Files.list(committed)) {
                for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).toList()) {
                    JsonNode c = read(f);
                    if (c == null || c.path("skipped").asBoolean(false)) continue; // a shard an earlier run committed
                    commits.add(new long[] {Files.getLastModifiedTime(f).toMillis(), c.path("stats").path("rows").asLong(0)});
                }
            } catch (IOException e) {
                // a folder being written: show what could be read
            }
        }
        commits.sort((a, b) -> Long.compare(a[0], b[0]));
        long t0 = start != null ? start.toEpochMilli() : commits.isEmpty() ? 0 : commits.get(0)[0];
        List<List<Number>> points = new ArrayList<>();
        points.add(List.of(0.0, 0));
        long done = 0;
        int step = Math.max(1, (commits.size() + MAX_POINTS - 1) / MAX_POINTS);
        for (int i = 0; i < commits.size(); i++) {
            done += commits.get(i)[1];
            if (i % step == 0 || i == commits.size() - 1) points.add(List.of(Math.max(0, commits.get(i)[0] - t0) / 1000.0, done));
        }
        m.put("points", points);
        JsonNode summary = read(out.resolve("summary.json"));
        Map<String, Object> stages = new LinkedHashMap<>();
        if (summary != null) {
            JsonNode s = summary.path("stageSeconds");
            for (String k : List.of("fetch_ms_mean", "decode_queue_ms_mean", "decode_ms_mean", "model_ms_mean")) {
                if (s.path(k).isNumber()) stages.put(k.replace("_ms_mean", ""), Math.round(s.path(k).asDouble() * 1000) / 1000.0);
            }
        }
        m.put("stages_ms_mean", stages); // mean milliseconds per call of each stage (a fetch, a decode, a model batch)
        return m;
    }

    private static JsonNode read(Path f) {
        try {
            return Files.isRegularFile(f) ? Json.MAPPER.readTree(f.toFile()) : null;
        } catch (IOException e) {
            return null; // being rewritten: the next poll reads it
        }
    }
}
