package dev.canopy.storage;

import java.time.Instant;

/** One listed object: its key relative to the store root, size in bytes and last modification. */
public record ObjectInfo(String key, long size, Instant lastModified) { }
