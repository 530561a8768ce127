package dev.canopy.imagery;

import java.util.List;
import java.util.Locale;

/**
 * The land-cover classes of a synthetic survey, each with its own palette and texture. Grass and
 * weed share similar greens on purpose: telling them apart needs their texture (weed grows in
 * clumps with yellow flower heads), not just the mean colour.
 */
public enum LandCover {
    NATIVE_GRASS(new int[] {92, 138, 58}, new int[] {138, 168, 84}),
    INVASIVE_WEED(new int[] {104, 142, 52}, new int[] {214, 198, 74}),
    SHRUB(new int[] {36, 74, 32}, new int[] {92, 128, 60}),
    BARE_SOIL(new int[] {128, 100, 72}, new int[] {182, 152, 116}),
    WATER(new int[] {34, 62, 88}, new int[] {66, 102, 122});

    private final int[] dark;
    private final int[] light;

    LandCover(int[] dark, int[] light) {
        this.dark = dark;
        this.light = light;
    }

    int[] dark() { return dark; }
    int[] light() { return light; }

    /** The snake-case name used in manifests, model packages and reports (e.g. {@code invasive_weed}). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static List<String> labels() {
        return java.util.Arrays.stream(values()).map(LandCover::label).toList();
    }

    public static LandCover fromLabel(String label) {
        for (LandCover c : values()) if (c.label().equals(label)) return c;
        throw new IllegalArgumentException("unknown land-cover class '" + label + "'; known: " + labels());
    }
}
