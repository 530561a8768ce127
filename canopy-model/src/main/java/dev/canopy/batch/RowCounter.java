package dev.canopy.batch;

import java.io.Serializable;

/**
 * Where a running shard reports each row as it is written, so the driver sees progress and errors
 * live instead of at shard commits. Called on the task thread for every row; must be cheap (an
 * accumulator or atomic add). Serializable because Spark ships it to executors.
 */
public interface RowCounter extends Serializable {
    RowCounter NONE = (ok) -> { };

    void row(boolean ok);
}
