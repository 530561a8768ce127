package dev.canopy.control;

import dev.canopy.batch.PredictionShardWriter;
import dev.canopy.serve.ApiError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.schema.GroupType;

/**
 * A finished prediction's rows as a GeoJSON FeatureCollection, a page at a time, read from its GeoParquet
 * shards (in shard order, so a cursor — the index of the next row — stays valid). Each feature is a tile:
 * its footprint, status, top class and probability, every class's probability, the error of a failed tile.
 * Jobs larger than {@link #MAX_INLINE_TILES} are not paged inline: their GeoParquet is the answer.
 */
final class Features {
    static final long MAX_INLINE_TILES = 100_000;
    /** A page can be large (a map draws every tile): each page rereads the shards up to its cursor. */
    static final int MAX_PAGE = 10_000;

    private Features() { }

    static Map<String, Object> page(Jobs.Job j, long offset, int limit) {
        return page(j, offset, limit, null);
    }

    /**
     * A page of the job's tiles from row {@code offset} (in shard order), only those of {@code status} when it is
     * given ({@code ok} or {@code error}: the dashboard lists failed tiles so). The cursor stays a row index.
     */
    static Map<String, Object> page(Jobs.Job j, long offset, int limit, String status) {
        long tiles = checkInline(j);
        List<Map<String, Object>> features = new ArrayList<>();
        long[] next = {offset};
        scan(j, (index, g) -> {
            if (index < offset) return true;
            if (features.size() == limit) return false;
            next[0] = index + 1;
            if (status == null || status.equals(g.getString("status", 0))) features.add(feature(g));
            return true;
        });
        Map<String, Object> fc = new LinkedHashMap<>();
        fc.put("type", "FeatureCollection");
        fc.put("features", features);
        if (features.size() == limit && next[0] < tiles) fc.put("next_cursor", Page.encode(next[0]));
        return fc;
    }

    /** The URI a tile of the job was read from, if the job has that tile. */
    static java.util.Optional<String> uriOf(Jobs.Job j, String tileId) {
        checkInline(j);
        String[] found = {null};
        scan(j, (index, g) -> {
            if (!tileId.equals(g.getString("id", 0))) return true;
            found[0] = g.getString("uri", 0);
            return false;
        });
        return java.util.Optional.ofNullable(found[0]);
    }

    /** The summed footprint of the job's tiles in hectares (tiles do not overlap): the area of a job run without one. */
    static double hectares(Jobs.Job j) {
        double[] sum = {0};
        org.locationtech.jts.geom.GeometryFactory gf = new org.locationtech.jts.geom.GeometryFactory();
        scan(j, (index, g) -> {
            Group b = g.getGroup("bbox", 0);
            sum[0] += Results.hectares(gf.toGeometry(new org.locationtech.jts.geom.Envelope(b.getDouble("xmin", 0), b.getDouble("xmax", 0),
                    b.getDouble("ymin", 0), b.getDouble("ymax", 0))));
            return true;
        });
        return sum[0];
    }

    private static long checkInline(Jobs.Job j) {
        if (!j.kind().equals("prediction") || !j.status().equals("succeeded") || j.result() == null) {
            throw new ApiError(409, "no_features", "job " + j.id() + " is " + j.status() + "; features exist once a prediction job has succeeded");
        }
        long tiles = ((Number) j.result().getOrDefault("tiles", 0)).longValue();
        if (tiles > MAX_INLINE_TILES) {
            throw new ApiError(413, "too_large_inline", "job " + j.id() + " has " + tiles + " tiles, more than the " + MAX_INLINE_TILES
                    + " served inline; read its GeoParquet at " + j.result().get("geoparquet"));
        }
        return tiles;
    }

    /** Visits the job's rows in shard order until the visitor answers false. */
    private interface RowVisitor {
        boolean visit(long index, Group row);
    }

    private static void scan(Jobs.Job j, RowVisitor v) {
        Path shards = j.outputDir().resolve("shards");
        if (!Files.isDirectory(shards)) throw new ApiError(409, "no_features", "job " + j.id() + " has no GeoParquet shards on this server");
        if (Files.isSymbolicLink(shards)) throw unsafe(j);
        long index = 0;
        try (Stream<Path> files = Files.list(shards)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().toList()) {
                // results are written by batch inference, never as links: a link could serve another job's rows or any file
                if (Files.isSymbolicLink(f)) throw unsafe(j);
                try (ParquetReader<Group> r = new ParquetReader.Builder<Group>(new LocalInputFile(f)) {
                    @Override
                    protected org.apache.parquet.hadoop.api.ReadSupport<Group> getReadSupport() {
                        return new GroupReadSupport();
                    }
                }.build()) {
                    for (Group g; (g = r.read()) != null; index++) {
                        if (!v.visit(index, g)) return;
                    }
                }
            }
        } catch (IOException e) {
            throw new ApiError(500, "internal", "cannot read the job's GeoParquet; the server log has the details");
        }
    }

    private static ApiError unsafe(Jobs.Job j) {
        return new ApiError(409, "unsafe_results", "job " + j.id() + "'s results contain links, which are not served; rerun the job");
    }

    private static Map<String, Object> feature(Group g) {
        Group b = g.getGroup("bbox", 0);
        double x0 = b.getDouble("xmin", 0), y0 = b.getDouble("ymin", 0), x1 = b.getDouble("xmax", 0), y1 = b.getDouble("ymax", 0);
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("status", g.getString("status", 0));
        GroupType t = g.getType();
        if (g.getFieldRepetitionCount("error") > 0) props.put("error", g.getString("error", 0));
        if (g.getFieldRepetitionCount("top_class") > 0) props.put("top_class", g.getString("top_class", 0));
        if (g.getFieldRepetitionCount("top_probability") > 0) props.put("top_probability", g.getFloat("top_probability", 0));
        for (int i = 0; i < t.getFieldCount(); i++) {
            String n = t.getFieldName(i);
            if (n.startsWith(PredictionShardWriter.PROB_PREFIX) && g.getFieldRepetitionCount(i) > 0) props.put(n, g.getFloat(i, 0));
        }
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("type", "Feature");
        f.put("id", g.getString("id", 0));
        f.put("geometry", Map.of("type", "Polygon", "coordinates", List.of(List.of(List.of(x0, y0), List.of(x1, y0), List.of(x1, y1), List.of(x0, y1),
                List.of(x0, y0)))));
        f.put("properties", props);
        return f;
    }
}
