package dev.canopy.api;

/** An axis-aligned box in lon/lat degrees (EPSG:4326 axis order x=lon, y=lat). */
public record BoundingBox(double minX, double minY, double maxX, double maxY) {
    public BoundingBox {
        if (!(minX <= maxX) || !(minY <= maxY)) {
            throw new IllegalArgumentException("empty or inverted box: " + minX + "," + minY + "," + maxX + "," + maxY);
        }
    }

    public boolean intersects(BoundingBox o) {
        return minX <= o.maxX && o.minX <= maxX && minY <= o.maxY && o.minY <= maxY;
    }

    public BoundingBox union(BoundingBox o) {
        return new BoundingBox(Math.min(minX, o.minX), Math.min(minY, o.minY), Math.max(maxX, o.maxX), Math.max(maxY, o.maxY));
    }
}
