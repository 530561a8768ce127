package dev.canopy.batch;

import dev.canopy.api.BoundingBox;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestIndex;
import java.util.ArrayList;
import java.util.List;

/**
 * Plans shards from the manifest index alone (part row counts and extents), so that planning
 * 100 million rows costs a few kilobytes of driver memory. Parts outside the area are skipped;
 * rows inside a part are filtered by the tasks.
 */
public final class InferencePlanner {
    private InferencePlanner() { }

    public static List<ShardSpec> plan(Manifest manifest, BoundingBox areaBox, int rowsPerShard) {
        if (rowsPerShard < 1) throw new IllegalArgumentException("rows per shard must be >= 1");
        List<ShardSpec> out = new ArrayList<>();
        for (ManifestIndex.Part p : manifest.index().parts()) {
            if (areaBox != null && !areaBox.intersects(p.bbox())) continue;
            for (long skip = 0; skip < p.rows(); skip += rowsPerShard) {
                out.add(new ShardSpec(out.size(), p.key(), skip, Math.min(rowsPerShard, p.rows() - skip)));
            }
        }
        return out;
    }

    /** A fingerprint of a plan: resuming is refused if the plan changed. */
    public static String digest(List<ShardSpec> plan) {
        StringBuilder s = new StringBuilder();
        for (ShardSpec p : plan) s.append(p.index()).append(':').append(p.partKey()).append(':').append(p.skip()).append(':').append(p.count()).append(';');
        return dev.canopy.api.Digests.sha256(s.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
