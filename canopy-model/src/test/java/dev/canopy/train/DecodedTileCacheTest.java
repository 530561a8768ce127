package dev.canopy.train;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DecodedTileCacheTest {
    @Test
    void staysWithinItsBudgetEvictingTheLeastRecentlyUsed() {
        DecodedTileCache c = new DecodedTileCache(4 * 300); // room for three tiles of 100 pixels
        c.put("a", new int[100]);
        c.put("b", new int[100]);
        c.put("c", new int[100]);
        assertThat(c.get("a")).isNotNull(); // a is now the most recently used
        c.put("d", new int[100]);
        assertThat(c.get("b")).isNull();
        assertThat(c.get("a")).isNotNull();
        assertThat(c.get("d")).isNotNull();
        assertThat(c.bytes()).isEqualTo(4 * 300);
        c.put("huge", new int[1000]); // larger than the whole budget: not kept, nothing evicted for it
        assertThat(c.get("huge")).isNull();
        assertThat(c.size()).isEqualTo(3);
        c.put("a", new int[200]); // replacing counts the new size once
        assertThat(c.bytes()).isLessThanOrEqualTo(4 * 300);
    }

    @Test
    void oneCachePerProcess() {
        assertThat(DecodedTileCache.shared()).isSameAs(DecodedTileCache.shared());
        assertThat(DecodedTileCache.shared().budget()).isEqualTo(DecodedTileCache.DEFAULT_BYTES);
    }
}
