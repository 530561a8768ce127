package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the batch-inference folders already under {@code home/jobs} that this server did not run ({@code canopy demo},
 * {@code canopy infer}) and lists them as finished prediction jobs owned by {@value #TEAM} and shared with every team
 * (as the survey folders found there are), so the dashboard shows them. Read-only: a row points at its folder ({@code indexed_from}), whose files stay the truth; indexing again
 * (every start) refreshes the row and keeps its id. Only finished folders are indexed: one with {@code _SUCCESS}
 * (succeeded) or a {@code summary.json} saying it failed; a folder still being written is skipped, so nothing is
 * shown half-done and the supervisor never mistakes it for one of its own.
 */
final class JobIndex {
    /** The owner shown for indexed jobs (every team sees them; none can cancel them: they are finished). */
    static final String TEAM = "local";
    private static final Logger LOG = LoggerFactory.getLogger(JobIndex.class);

    private final DataSource db;
    private final Clock clock;

    JobIndex(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** Indexes every finished job folder directly under {@code jobsDir}; answers how many were indexed. */
    int indexFolders(Path jobsDir) {
        if (!Files.isDirectory(jobsDir)) return 0;
        int n = 0;
        try (var dirs = Files.list(jobsDir)) {
            for (Path d : dirs.sorted().toList()) {
                // the server's own jobs live here too, in folders named by their ids
                if (Ids.looksLike("job", d.getFileName().toString()) || !Files.isRegularFile(d.resolve("_job.json"))) continue;
                try {
                    if (index(d.toRealPath())) n++;
                } catch (IOException | RuntimeException e) {
                    LOG.warn("not indexing job folder {}: {}", d, e.toString());
                }
            }
        } catch (IOException e) {
            LOG.warn("cannot list {}: {}", jobsDir, e.toString());
        }
        return n;
    }

    private boolean index(Path dir) throws IOException {
        JsonNode plan = Json.MAPPER.readTree(dir.resolve("_job.json").toFile());
        JsonNode progress = readIfThere(dir.resolve("progress.json"));
        JsonNode summary = readIfThere(dir.resolve("summary.json"));
        String status;
        if (Files.exists(dir.resolve("_SUCCESS")) && summary != null) status = "succeeded";
        else if (summary != null && summary.path("status").asText().equals("failed")) status = "failed";
        else return false; // running, or interrupted and resumable: not finished, not shown
        String model = plan.path("job").path("modelRef").asText(null);
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("name", dir.getFileName().toString());
        request.put("survey_uri", plan.path("job").path("surveyRoot").asText(null));
        request.put("model", model);
        request.put("source", "found under the Canopy home");
        Instant created = instant(plan.path("createdAt"), clock.instant());
        Instant started = instant(progress == null ? null : progress.path("startedAt"), created);
        Instant finished = instant(progress == null ? null : progress.path("updatedAt"), started);
        String id = Ids.next("job");
        Jobs.Job row = Sql.tx(db, "index a job folder", c -> Sql.one(c,
                "INSERT INTO jobs (id, kind, team, status, model, request, folder, progress, error, created_at, started_at, finished_at, created_by, indexed_from) "
                        + "VALUES (?, 'prediction', ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?, ?, ?, ?, 'index', ?) "
                        + "ON CONFLICT (indexed_from) DO UPDATE SET status = EXCLUDED.status, model = EXCLUDED.model, request = EXCLUDED.request, "
                        + "progress = EXCLUDED.progress, error = EXCLUDED.error, created_at = EXCLUDED.created_at, started_at = EXCLUDED.started_at, "
                        + "finished_at = EXCLUDED.finished_at RETURNING *",
                Jobs::row, id, TEAM, status, model, Json.writeString(request), dir.toString(), progress == null ? null : progress.toString(),
                status.equals("failed") ? summary.path("error").asText("failed; see the log") : null, created, started, finished, dir.toString())
                .orElseThrow());
        if (status.equals("succeeded")) {
            // an area-less job (the whole survey): its tiles' footprints are its area
            long rows = summary.path("rows").asLong(0);
            if (rows <= Features.MAX_INLINE_TILES) request.put("area_hectares", Features.hectares(row)); // else too slow to sum at start: none
            Jobs.Job withArea = new Jobs.Job(row.id(), row.seq(), row.kind(), row.team(), row.status(), row.model(), request, row.folder(), row.progress(),
                    null, row.error(), false, 0, null, null, null, null, row.createdAt(), row.startedAt(), row.finishedAt(), null, 0, row.indexedFrom());
            Map<String, Object> result = Results.of(withArea);
            Sql.tx(db, "index a job folder", c -> Sql.update(c, "UPDATE jobs SET request = ?::jsonb, result = ?::jsonb WHERE id = ?",
                    Json.writeString(request), Json.writeString(result), row.id()));
        }
        return true;
    }

    private static JsonNode readIfThere(Path f) throws IOException {
        return Files.isRegularFile(f) ? Json.MAPPER.readTree(f.toFile()) : null;
    }

    private static Instant instant(JsonNode n, Instant fallback) {
        if (n == null || !n.isTextual()) return fallback;
        try {
            return Instant.parse(n.asText());
        } catch (java.time.format.DateTimeParseException e) {
            return fallback;
        }
    }
}
