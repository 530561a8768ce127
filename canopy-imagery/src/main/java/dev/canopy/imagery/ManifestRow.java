package dev.canopy.imagery;

import dev.canopy.api.BoundingBox;
import java.time.Instant;

/**
 * One tile of a survey manifest. {@code key} is relative to the survey root, {@code uri} absolute.
 * {@code cover} holds one fraction per {@link LandCover} class, in enum order, summing to 1.
 */
public record ManifestRow(String id, String uri, String key, long row, long col, BoundingBox bbox, byte[] footprintWkb,
                          Instant captureTime, String dominantClass, int label, float[] cover) { }
