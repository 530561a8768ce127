package dev.canopy.imagery;

import java.time.Instant;

/**
 * What a synthetic survey looks like. Tiles lie on a grid of {@link #columns()} columns, row-major,
 * starting at the north-west corner {@code (originLon, originLat)}; each pixel covers
 * {@code gsdMeters} on the ground. Coordinates are WGS 84 lon/lat (OGC:CRS84), converted from
 * metres with a local equirectangular approximation, which is exact enough for a few kilometres.
 */
public record SurveySpec(long tiles, int tileSize, long seed, long distinct, double originLon, double originLat,
                         double gsdMeters, Instant captureStart, long captureIntervalMillis) {
    public static final int DEFAULT_TILE_SIZE = 256;
    public static final double DEFAULT_ORIGIN_LON = 146.80;   // a grassland study area near Armidale, NSW
    public static final double DEFAULT_ORIGIN_LAT = -30.50;
    public static final double DEFAULT_GSD_METERS = 0.05;      // 5 cm per pixel, typical for a survey drone
    public static final Instant DEFAULT_CAPTURE_START = Instant.parse("2026-03-02T00:00:00Z");
    public static final long DEFAULT_CAPTURE_INTERVAL_MILLIS = 1500;
    public static final long MAX_TILES = 1_000_000_000L;
    static final double METERS_PER_DEGREE = 111_320.0;

    public SurveySpec {
        if (tiles < 1 || tiles > MAX_TILES) throw new IllegalArgumentException("--tiles must be 1.." + MAX_TILES + ", got " + tiles);
        if (distinct < 1 || distinct > tiles) throw new IllegalArgumentException("--distinct must be 1..tiles (" + tiles + "), got " + distinct);
        if (gsdMeters <= 0) throw new IllegalArgumentException("ground sampling distance must be > 0");
        if (Math.abs(originLat) > 80 || Math.abs(originLon) > 180) throw new IllegalArgumentException("origin out of range");
    }

    public static SurveySpec of(long tiles, int tileSize, long seed) {
        return new SurveySpec(tiles, tileSize, seed, tiles, DEFAULT_ORIGIN_LON, DEFAULT_ORIGIN_LAT, DEFAULT_GSD_METERS,
                DEFAULT_CAPTURE_START, DEFAULT_CAPTURE_INTERVAL_MILLIS);
    }

    public SurveySpec withDistinct(long k) {
        return new SurveySpec(tiles, tileSize, seed, k, originLon, originLat, gsdMeters, captureStart, captureIntervalMillis);
    }

    public SurveySpec withOrigin(double lon, double lat) {
        return new SurveySpec(tiles, tileSize, seed, distinct, lon, lat, gsdMeters, captureStart, captureIntervalMillis);
    }

    /** Grid width: close to square. */
    public long columns() {
        return (long) Math.ceil(Math.sqrt((double) tiles));
    }

    public long rows() {
        return (tiles + columns() - 1) / columns();
    }

    public boolean reusesImages() {
        return distinct < tiles;
    }

    double degreesPerPixelLat() {
        return gsdMeters / METERS_PER_DEGREE;
    }

    double degreesPerPixelLon() {
        return gsdMeters / (METERS_PER_DEGREE * Math.cos(Math.toRadians(originLat)));
    }

    /** Footprint of tile (col,row) as [minLon, minLat, maxLon, maxLat]. Rows go south. */
    public double[] footprint(long col, long row) {
        double w = tileSize * degreesPerPixelLon();
        double h = tileSize * degreesPerPixelLat();
        double minLon = originLon + col * w;
        double maxLat = originLat - row * h;
        return new double[] {minLon, maxLat - h, minLon + w, maxLat};
    }
}
