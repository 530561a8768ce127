package dev.canopy.storage;

import java.util.List;

/**
 * One page of a listing, keys in ascending order. {@code nextToken} is null on the last page;
 * pass it back to {@link ObjectStore#list(String, String, int)} to get the next one.
 */
public record ListPage(List<ObjectInfo> objects, String nextToken) {
    public boolean hasMore() {
        return nextToken != null;
    }
}
