package dev.canopy.train;

import java.net.URI;

/** One labelled tile: stable id, where its bytes are, and its class index. */
public record Sample(String id, URI uri, int label) { }
