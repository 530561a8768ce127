package dev.canopy.control;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.BoundingBox;
import dev.canopy.api.Json;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import dev.canopy.serve.ApiError;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.storage.UriPolicy;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Surveys by name: a manifest's root under a name, with the extent, tile count and classes read from the
 * manifest when it is registered. Roots must lie under the allowed prefixes. A survey belongs to a team,
 * or to every team when {@code team} is null (those the server finds under the Canopy home).
 */
final class Surveys {
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");

    record Survey(long seq, String name, String team, String root, long tiles, List<String> classes, BoundingBox extent, Instant createdAt, String createdBy) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("team", team);
            m.put("manifest", root);
            m.put("tiles", tiles);
            m.put("classes", classes);
            m.put("extent", List.of(extent.minX(), extent.minY(), extent.maxX(), extent.maxY()));
            m.put("created_at", createdAt.toString());
            return m;
        }

        boolean visibleTo(Principals.Caller caller) {
            return team == null || caller.seesAll() || team.equals(caller.team());
        }
    }

    private final DataSource db;
    private final Clock clock;
    private final UriPolicy allow;
    private final S3Settings s3;

    Surveys(DataSource db, Clock clock, UriPolicy allow, S3Settings s3) {
        this.db = db;
        this.clock = clock;
        this.allow = allow;
        this.s3 = s3;
    }

    /** Registers {@code name} for {@code team} (null: every team); 409 if the name is taken. */
    Survey register(String name, String team, String manifestUri, String actor) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new ApiError(400, "bad_survey_name", "survey name '" + name + "' is not valid; use 1-63 lowercase letters, digits, '.', '_' or '-'");
        }
        URI root = allow.check(manifestUri);
        ManifestIndex index;
        try (ObjectStore store = ObjectStores.open(root, s3)) {
            index = Manifest.open(store).index();
        }
        BoundingBox union = null;
        for (ManifestIndex.Part p : index.parts()) union = union == null ? p.bbox() : union.union(p.bbox());
        if (union == null) throw new ApiError(400, "empty_survey", "the manifest at " + root + " lists no tiles; generate or import tiles first");
        BoundingBox extent = union;
        Survey s = new Survey(0, name, team, root.toString(), index.rows(), index.classes(), extent, clock.instant(), actor);
        boolean inserted = Sql.tx(db, "register a survey", c -> Sql.update(c, "INSERT INTO surveys (name, team, root_uri, tiles, classes, extent, "
                + "created_at, created_by) VALUES (?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?) ON CONFLICT (name) DO NOTHING", s.name, s.team, s.root,
                s.tiles, Json.writeString(s.classes), Json.writeString(List.of(extent.minX(), extent.minY(), extent.maxX(), extent.maxY())),
                s.createdAt, actor) == 1);
        if (!inserted) throw new ApiError(409, "survey_exists", "a survey named '" + name + "' is already registered; choose another name");
        return s;
    }

    /** Registers every survey folder under {@code surveysDir} not registered yet, shared with every team. */
    int registerFolders(Path surveysDir) {
        if (!Files.isDirectory(surveysDir)) return 0;
        int n = 0;
        try (var dirs = Files.list(surveysDir)) {
            for (Path d : dirs.sorted().toList()) {
                String name = d.getFileName().toString();
                if (!NAME.matcher(name).matches() || !Files.isRegularFile(d.resolve(dev.canopy.imagery.ManifestWriter.INDEX)) || get(name).isPresent()) continue;
                try {
                    register(name, null, d.toUri().toString(), "server");
                    n++;
                } catch (RuntimeException e) {
                    org.slf4j.LoggerFactory.getLogger(Surveys.class).warn("survey folder {} not registered: {}", d, e.toString());
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return n;
    }

    Optional<Survey> get(String name) {
        if (name == null || !NAME.matcher(name).matches()) return Optional.empty();
        return Sql.read(db, "read a survey", c -> Sql.one(c, "SELECT * FROM surveys WHERE name = ?", Surveys::row, name));
    }

    /** The survey if {@code caller} may see it, else 404 (no hint that it exists). */
    Survey visible(String name, Principals.Caller caller) {
        return get(name).filter(s -> s.visibleTo(caller))
                .orElseThrow(() -> new ApiError(404, "survey_not_found", "no survey named '" + Page.abbreviate(String.valueOf(name))
                        + "'; list them with GET /v1/surveys or register one with POST /v1/surveys"));
    }

    Page<Survey> list(Principals.Caller caller, String cursor, int limit) {
        long after = Page.after(cursor);
        List<Survey> rows = Sql.read(db, "list surveys", c -> caller.seesAll()
                ? Sql.query(c, "SELECT * FROM surveys WHERE seq > ? ORDER BY seq LIMIT ?", Surveys::row, after, limit + 1)
                : Sql.query(c, "SELECT * FROM surveys WHERE seq > ? AND (team IS NULL OR team = ?) ORDER BY seq LIMIT ?", Surveys::row, after,
                caller.team(), limit + 1));
        return Page.of(rows, limit, Survey::seq);
    }

    private static Survey row(java.sql.ResultSet r) throws java.sql.SQLException {
        List<Double> e = Json.MAPPER.convertValue(Jsonb.tree(r.getString("extent")), new TypeReference<List<Double>>() { });
        return new Survey(r.getLong("seq"), r.getString("name"), r.getString("team"), r.getString("root_uri"), r.getLong("tiles"),
                Json.MAPPER.convertValue(Jsonb.tree(r.getString("classes")), new TypeReference<List<String>>() { }),
                new BoundingBox(e.get(0), e.get(1), e.get(2), e.get(3)), Sql.instant(r, "created_at"), r.getString("created_by"));
    }
}
