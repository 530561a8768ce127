package dev.canopy.batch;

import java.io.Serializable;

/** One unit of work and one output shard: rows [{@code skip}, {@code skip+count}) of one manifest part. */
public record ShardSpec(int index, String partKey, long skip, long count) implements Serializable {
    public String shardKey() {
        return String.format("shards/part-%05d.parquet", index);
    }

    public String markerKey() {
        return String.format("_committed/part-%05d.json", index);
    }
}
