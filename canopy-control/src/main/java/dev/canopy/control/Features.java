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

    private Features() { }

    static Map<String, Object> page(Jobs.Job j, long offset, int limit) {
        if (!j.kind().equals("prediction") || !j.status().equals("succeeded") || j.result() == null) {
            throw new ApiError(409, "no_features", "job " + j.id() + " is " + j.status() + "; features exist once a prediction job has succeeded");
        }
        long tiles = ((Number) j.result().getOrDefault("tiles", 0)).longValue();
        if (tiles > MAX_INLINE_TILES) {
            throw new ApiError(413, "too_large_inline", "job " + j.id() + " has " + tiles + " tiles, more than the " + MAX_INLINE_TILES
                    + " served inline; read its GeoParquet at " + j.result().get("geoparquet"));
        }
        Path shards = Path.of(j.folder()).resolve(JobSupervisor.OUTPUT).resolve("shards");
        if (!Files.isDirectory(shards)) throw new ApiError(409, "no_features", "job " + j.id() + " has no GeoParquet shards on this server");
        List<Map<String, Object>> features = new ArrayList<>();
        long index = 0;
        try (Stream<Path> files = Files.list(shards)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().toList()) {
                try (ParquetReader<Group> r = new ParquetReader.Builder<Group>(new LocalInputFile(f)) {
                    @Override
                    protected org.apache.parquet.hadoop.api.ReadSupport<Group> getReadSupport() {
                        return new GroupReadSupport();
                    }
                }.build()) {
                    for (Group g; (g = r.read()) != null; index++) {
                        if (index < offset) continue;
                        if (features.size() == limit) break;
                        features.add(feature(g));
                    }
                }
                if (features.size() == limit) break;
            }
        } catch (IOException e) {
            throw new ApiError(500, "internal", "cannot read the job's GeoParquet; the server log has the details");
        }
        Map<String, Object> fc = new LinkedHashMap<>();
        fc.put("type", "FeatureCollection");
        fc.put("features", features);
        long next = offset + features.size();
        if (features.size() == limit && next < tiles) fc.put("next_cursor", Page.encode(next));
        return fc;
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
