package dev.canopy.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.imagery.Area;
import dev.canopy.serve.ApiError;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Labels from annotation tools: a tile id or a geometry (a label geometry covers the tiles whose footprint is
 * at least half inside it), a class, the annotator and when. The class set of a retraining comes from the
 * labels; nothing is hard-coded.
 */
final class Labels {
    static final Pattern CLASS = Pattern.compile("[a-z][a-z0-9_-]{0,62}");
    static final int MAX_PER_REQUEST = 5_000;
    static final int MAX_VERTICES = 1_000;

    record Label(long id, String survey, String tileId, JsonNode geometry, String labelClass, String annotator, Instant labelledAt) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("survey", survey);
            m.put("tile_id", tileId);
            m.put("geometry", geometry);
            m.put("class", labelClass);
            m.put("annotator", annotator);
            m.put("time", labelledAt.toString());
            return m;
        }
    }

    /** Filters of a labels query; null means any. */
    record Query(String survey, Instant from, Instant to, String annotator, List<String> classes) { }

    private final DataSource db;
    private final Clock clock;

    Labels(DataSource db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** Checks and stores labels for {@code survey}, all or none; returns how many. */
    int ingest(String team, Surveys.Survey survey, JsonNode items) {
        if (items == null || !items.isArray() || items.isEmpty()) throw new ApiError(400, "missing_field", "field 'labels' must be a non-empty array");
        if (items.size() > MAX_PER_REQUEST) throw new ApiError(400, "too_many_labels", items.size() + " labels in one request; send at most " + MAX_PER_REQUEST);
        List<Object[]> rows = new ArrayList<>();
        Instant now = clock.instant();
        for (int i = 0; i < items.size(); i++) {
            JsonNode l = items.get(i);
            String at = "labels[" + i + "]";
            if (!l.isObject()) throw new ApiError(400, "bad_label", at + " must be an object");
            for (var it = l.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!List.of("tile_id", "geometry", "class", "annotator", "time").contains(f)) {
                    throw new ApiError(400, "unknown_field", "unknown field " + at + "." + Page.abbreviate(f) + "; a label takes tile_id or geometry, class, annotator, time");
                }
            }
            String tile = Bodies.text(l, "tile_id", false);
            JsonNode g = l.get("geometry");
            if ((tile == null) == (g == null || g.isNull())) throw new ApiError(400, "bad_label", at + " needs exactly one of tile_id and geometry");
            if (tile != null && (tile.isEmpty() || tile.length() > 200)) throw new ApiError(400, "bad_label", at + ".tile_id must be 1 to 200 characters");
            if (g != null && !g.isNull()) {
                Area a;
                try {
                    a = Area.parse(Json.writeString(g));
                } catch (dev.canopy.imagery.AreaException e) {
                    throw new ApiError(400, "bad_label", at + ".geometry: " + e.oneLine());
                }
                if (a.geometry().getNumPoints() > MAX_VERTICES) throw new ApiError(400, "bad_label", at + ".geometry has more than " + MAX_VERTICES + " vertices");
                if (!a.bbox().intersects(survey.extent())) throw new ApiError(422, "label_outside_survey", at + ".geometry does not overlap survey " + survey.name());
            }
            String cls = Bodies.text(l, "class", true);
            if (!CLASS.matcher(cls).matches()) throw new ApiError(400, "bad_label", at + ".class '" + Page.abbreviate(cls) + "' must be lowercase letters, digits, '_' or '-'");
            String annotator = Bodies.text(l, "annotator", true);
            if (annotator.isBlank() || annotator.length() > 100) throw new ApiError(400, "bad_label", at + ".annotator must be 1 to 100 characters");
            String time = Bodies.text(l, "time", true);
            Instant t;
            try {
                t = Instant.parse(time);
            } catch (DateTimeParseException e) {
                throw new ApiError(400, "bad_label", at + ".time '" + Page.abbreviate(time) + "' is not an ISO-8601 instant such as 2026-03-02T10:15:00Z");
            }
            if (t.isAfter(now.plus(Duration.ofDays(1)))) throw new ApiError(400, "bad_label", at + ".time " + t + " is in the future");
            if (t.isBefore(Instant.parse("1900-01-01T00:00:00Z"))) throw new ApiError(400, "bad_label", at + ".time " + t + " is before 1900");
            rows.add(new Object[] {team, survey.name(), tile, g == null || g.isNull() ? null : Json.writeString(g), cls, annotator, t, now});
        }
        return Sql.tx(db, "store labels", c -> {
            for (Object[] r : rows) {
                Sql.update(c, "INSERT INTO labels (team, survey, tile_id, geometry, class, annotator, labelled_at, created_at) VALUES (?, ?, ?, ?::jsonb, ?, ?, ?, ?)", r);
            }
            return rows.size();
        });
    }

    /** Labels of {@code team} (null: every team) matching {@code q}, oldest id first, after {@code afterId}. */
    List<Label> query(String team, Query q, long afterId, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM labels WHERE id > ?");
        List<Object> args = new ArrayList<>(List.of(afterId));
        if (team != null) { sql.append(" AND team = ?"); args.add(team); }
        if (q.survey() != null) { sql.append(" AND survey = ?"); args.add(q.survey()); }
        if (q.from() != null) { sql.append(" AND labelled_at >= ?"); args.add(q.from()); }
        if (q.to() != null) { sql.append(" AND labelled_at < ?"); args.add(q.to()); }
        if (q.annotator() != null) { sql.append(" AND annotator = ?"); args.add(q.annotator()); }
        if (q.classes() != null && !q.classes().isEmpty()) { sql.append(" AND class = ANY(?)"); args.add(q.classes().toArray(new String[0])); }
        sql.append(" ORDER BY id LIMIT ?");
        args.add(limit);
        return Sql.read(db, "query labels", c -> Sql.query(c, sql.toString(), Labels::row, args.toArray()));
    }

    static Instant time(String value, String name) {
        if (value == null || value.isEmpty()) return null;
        try {
            Instant t = Instant.parse(value);
            if (t.isBefore(Instant.parse("1900-01-01T00:00:00Z")) || t.isAfter(Instant.parse("3000-01-01T00:00:00Z"))) {
                throw new ApiError(400, "bad_filter", name + " " + t + " is outside 1900..3000");
            }
            return t;
        } catch (DateTimeParseException e) {
            throw new ApiError(400, "bad_filter", name + " '" + Page.abbreviate(value) + "' is not an ISO-8601 instant such as 2026-03-02T00:00:00Z");
        }
    }

    private static Label row(ResultSet r) throws SQLException {
        return new Label(r.getLong("id"), r.getString("survey"), r.getString("tile_id"), Jsonb.tree(r.getString("geometry")), r.getString("class"),
                r.getString("annotator"), Sql.instant(r, "labelled_at"));
    }
}
