package dev.canopy.api;

import java.net.URI;
import java.util.Objects;

/** A tile to read: its stable id (unique within a manifest) and where its bytes live. */
public record TileRef(String id, URI uri) {
    public TileRef {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(uri, "uri");
    }
}
