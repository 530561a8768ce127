package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the batch-inference folders already under {@code home/jobs} that this server did not run ({@code canopy demo},
 * {@code canopy infer}) and lists them as finished prediction jobs owned by {@value #TEAM} and shared with every team
 * (as the survey folders found there are), so the dashboard shows them. Read-only: a row points at its folder
 * ({@code indexed_from}), whose files stay the truth.
 *
 * <p>Rules, each for a reason:
 * <ul>
 *   <li>Only finished folders: {@code progress.json} says succeeded (with {@code _SUCCESS} and a summary) or failed.
 *       A folder being written, or rewritten by {@code --overwrite}, is skipped, so nothing shows half-done and the
 *       supervisor never mistakes it for one of its own (it only claims queued and running rows).</li>
 *   <li>Confined: the folder must really be in {@code home/jobs} (not a link to elsewhere), and no file the server
 *       serves from it (shards, logs, markers) may be a link: a link could republish another team's job or any
 *       file of the host to every team.</li>
 *   <li>One transaction per folder, with its result computed first: a row is never listed as succeeded without one.</li>
 *   <li>Every start indexes again: a folder whose progress did not change keeps its row untouched; a row whose folder
 *       is gone is removed.</li>
 * </ul>
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

    /** Indexes every finished job folder directly under {@code jobsDir}; answers how many are listed. */
    int indexFolders(Path jobsDir) {
        List<String> listed = new ArrayList<>();
        if (Files.isDirectory(jobsDir)) {
            try (var dirs = Files.list(jobsDir)) {
                Path root = jobsDir.toRealPath();
                for (Path d : dirs.sorted().toList()) {
                    // the server's own jobs live here too, in folders named by their ids
                    if (Ids.looksLike("job", d.getFileName().toString()) || !Files.isRegularFile(d.resolve("_job.json"))) continue;
                    try {
                        Path real = d.toRealPath();
                        if (!root.equals(real.getParent())) {
                            LOG.warn("not indexing {}: it links to {}, outside {}", d, real, root);
                            continue;
                        }
                        if (index(real)) listed.add(real.toString());
                    } catch (IOException | RuntimeException e) {
                        LOG.warn("not indexing job folder {}: {}", d, e.toString());
                    }
                }
            } catch (IOException e) {
                LOG.warn("cannot list {}: {}", jobsDir, e.toString());
            }
        }
        forgetOthers(listed);
        return listed.size();
    }

    private void forgetOthers(List<String> listed) {
        Sql.tx(db, "forget gone job folders", c -> {
            try (var s = c.prepareStatement("DELETE FROM jobs WHERE indexed_from IS NOT NULL AND NOT (indexed_from = ANY (?))")) {
                s.setArray(1, c.createArrayOf("text", listed.toArray()));
                return s.executeUpdate();
            }
        });
    }

    private boolean index(Path dir) throws IOException {
        for (String f : List.of("_job.json", "progress.json", "summary.json", "_SUCCESS", "shards", "_committed", "_logs")) {
            if (Files.isSymbolicLink(dir.resolve(f))) throw new IOException(f + " is a link; indexed folders are served as they are, without links");
        }
        JsonNode plan = Json.MAPPER.readTree(dir.resolve("_job.json").toFile());
        JsonNode progress = readIfThere(dir.resolve("progress.json"));
        JsonNode summary = readIfThere(dir.resolve("summary.json"));
        String stage = progress == null ? "" : progress.path("stage").asText("");
        String status;
        String error = null;
        if (stage.equals("succeeded") && Files.exists(dir.resolve("_SUCCESS")) && summary != null && summary.path("status").asText().equals("succeeded")) {
            status = "succeeded";
        } else if (stage.equals("failed")) {
            status = "failed";
            // the status only: the message may name the operator's paths, and every team sees this row
            error = summary != null && !summary.path("status").asText().isEmpty() ? "batch inference ended: " + summary.path("status").asText()
                    : "batch inference failed";
        } else {
            return false; // running, interrupted (resumable) or rewritten: not finished, not shown
        }
        String model = plan.path("job").path("modelRef").asText(null);
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("name", dir.getFileName().toString());
        request.put("survey_uri", plan.path("job").path("surveyRoot").asText(null));
        request.put("model", model);
        request.put("source", "found under the Canopy home");
        Instant created = instant(plan.path("createdAt"), clock.instant());
        Instant started = instant(progress.path("startedAt"), created);
        Instant finished = instant(progress.path("updatedAt"), started);
        Optional<Jobs.Job> known = Sql.read(db, "read an indexed job", c -> Sql.one(c, "SELECT * FROM jobs WHERE indexed_from = ?", Jobs::row, dir.toString()));
        if (known.isPresent() && known.get().status().equals(status) && finished.equals(known.get().finishedAt())) return true; // unchanged since
        String id = known.map(Jobs.Job::id).orElseGet(() -> Ids.next("job"));
        Map<String, Object> result = null;
        if (status.equals("succeeded")) {
            Jobs.Job draft = new Jobs.Job(id, 0, "prediction", TEAM, status, model, request, dir.toString(), null, null, null, false, 0, null, null, null, null,
                    created, started, finished, null, 0, dir.toString());
            // an area-less job (the whole survey): its tiles' footprints are its area; a huge one is not summed at start
            if (summary.path("rows").asLong(0) <= Features.MAX_INLINE_TILES) request.put("area_hectares", Features.hectares(draft));
            result = Results.of(draft);
        }
        String resultJson = result == null ? null : Json.writeString(result);
        String failure = error;
        Sql.tx(db, "index a job folder", c -> Sql.update(c,
                "INSERT INTO jobs (id, kind, team, status, model, request, folder, progress, result, error, created_at, started_at, finished_at, created_by, indexed_from) "
                        + "VALUES (?, 'prediction', ?, ?, ?, ?::jsonb, ?, ?::jsonb, ?::jsonb, ?, ?, ?, ?, 'index', ?) "
                        + "ON CONFLICT (indexed_from) DO UPDATE SET status = EXCLUDED.status, model = EXCLUDED.model, request = EXCLUDED.request, "
                        + "progress = EXCLUDED.progress, result = EXCLUDED.result, error = EXCLUDED.error, created_at = EXCLUDED.created_at, "
                        + "started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at",
                id, TEAM, status, model, Json.writeString(request), dir.toString(), progress.toString(), resultJson, failure, created, started, finished,
                dir.toString()));
        return true;
    }

    private static JsonNode readIfThere(Path f) throws IOException {
        return Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS) ? Json.MAPPER.readTree(f.toFile()) : null;
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
