package dev.canopy.train;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * Train/validation split by a stable hash of the tile id: a tile stays on the same side whatever
 * the order, size or seed of the run, so validation never leaks into training across resumes or trials.
 */
public final class Split {
    private Split() { }

    public static boolean isValidation(String id, int valPercent) {
        CRC32 crc = new CRC32();
        crc.update(id.getBytes(StandardCharsets.UTF_8));
        return crc.getValue() % 100 < valPercent;
    }
}
