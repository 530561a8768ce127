package dev.canopy.imagery;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.canopy.api.BoundingBox;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Envelope;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.LinearRing;
import org.locationtech.jts.geom.Polygon;
import org.locationtech.jts.geom.PrecisionModel;
import org.locationtech.jts.geom.prep.PreparedGeometry;
import org.locationtech.jts.geom.prep.PreparedGeometryFactory;
import org.locationtech.jts.io.WKBReader;
import org.locationtech.jts.operation.valid.IsValidOp;
import org.locationtech.jts.operation.valid.TopologyValidationError;

/**
 * An area of interest: a GeoJSON Polygon or MultiPolygon in lon/lat (OGC:CRS84), given bare, as a
 * Feature or as a FeatureCollection (whose polygons are united). Validated strictly, because an area
 * decides which tiles a job pays for: rings must be closed with at least four positions, coordinates
 * finite and in range, the polygon topologically valid and within size limits.
 */
public final class Area {
    public static final int MAX_VERTICES = 100_000;
    public static final int MAX_BYTES = 10 * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();
    static final GeometryFactory GEOMETRY = new GeometryFactory(new PrecisionModel(), 4326);

    private final Geometry geometry;
    private final PreparedGeometry prepared;

    private Area(Geometry geometry) {
        this.geometry = geometry;
        this.prepared = PreparedGeometryFactory.prepare(geometry);
    }

    public static Area of(Geometry g) {
        return new Area(g);
    }

    public Geometry geometry() {
        return geometry;
    }

    public BoundingBox bbox() {
        Envelope e = geometry.getEnvelopeInternal();
        return new BoundingBox(e.getMinX(), e.getMinY(), e.getMaxX(), e.getMaxY());
    }

    /** True when the tile footprint (a box) intersects the area. */
    public boolean intersects(BoundingBox box) {
        if (!bbox().intersects(box)) return false;
        return prepared.intersects(GEOMETRY.toGeometry(new Envelope(box.minX(), box.maxX(), box.minY(), box.maxY())));
    }

    /** True when a WKB footprint intersects the area. */
    public boolean intersectsWkb(byte[] wkb) {
        try {
            return prepared.intersects(new WKBReader(GEOMETRY).read(wkb));
        } catch (org.locationtech.jts.io.ParseException e) {
            throw new IllegalArgumentException("bad WKB footprint", e);
        }
    }

    public static Area parse(String geojson) {
        if (geojson.length() > MAX_BYTES) throw new AreaException("area file is larger than " + MAX_BYTES + " bytes", "simplify the polygon");
        JsonNode root;
        try {
            root = JSON.readTree(geojson);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AreaException("area is not valid JSON: " + e.getOriginalMessage(), "give a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection");
        }
        if (root == null || !root.isObject()) throw new AreaException("area is not a JSON object", "give a GeoJSON object");
        List<Polygon> polygons = new ArrayList<>();
        int[] vertices = {0};
        collect(root, "$", polygons, vertices);
        if (polygons.isEmpty()) throw new AreaException("area has no polygons", "give at least one Polygon");
        Geometry g = polygons.size() == 1 ? polygons.get(0) : GEOMETRY.createMultiPolygon(polygons.toArray(new Polygon[0]));
        for (int i = 0; i < polygons.size(); i++) {
            TopologyValidationError err = new IsValidOp(polygons.get(i)).getValidationError();
            if (err != null) {
                throw new AreaException("polygon " + i + " is not valid: " + err.getMessage() + " near " + err.getCoordinate(),
                        "fix the ring so it does not cross itself and holes lie inside the shell");
            }
        }
        if (polygons.size() > 1) g = g.union(); // overlapping parts of a collection are fine; unite them
        if (g.getArea() <= 0) throw new AreaException("area has zero size", "give a polygon that encloses some ground");
        return new Area(g);
    }

    private static void collect(JsonNode n, String path, List<Polygon> out, int[] vertices) {
        String type = text(n, "type", path);
        switch (type) {
            case "FeatureCollection" -> {
                JsonNode fs = n.get("features");
                if (fs == null || !fs.isArray()) throw new AreaException(path + ".features must be an array", "see RFC 7946 section 3.3");
                for (int i = 0; i < fs.size(); i++) collect(fs.get(i), path + ".features[" + i + "]", out, vertices);
            }
            case "Feature" -> {
                JsonNode g = n.get("geometry");
                if (g == null || g.isNull()) throw new AreaException(path + ".geometry is missing", "give the feature a Polygon geometry");
                collect(g, path + ".geometry", out, vertices);
            }
            case "Polygon" -> out.add(polygon(coords(n, path), path + ".coordinates", vertices));
            case "MultiPolygon" -> {
                JsonNode c = coords(n, path);
                for (int i = 0; i < c.size(); i++) out.add(polygon(c.get(i), path + ".coordinates[" + i + "]", vertices));
            }
            default -> throw new AreaException(path + " has type " + type + "; only Polygon and MultiPolygon describe an area",
                    "draw the area as a polygon");
        }
    }

    private static String text(JsonNode n, String field, String path) {
        JsonNode t = n.get(field);
        if (t == null || !t.isTextual()) throw new AreaException(path + "." + field + " is missing", "every GeoJSON object needs a \"type\"");
        return t.asText();
    }

    private static JsonNode coords(JsonNode n, String path) {
        JsonNode c = n.get("coordinates");
        if (c == null || !c.isArray()) throw new AreaException(path + ".coordinates must be an array", "see RFC 7946 section 3.1.6");
        return c;
    }

    private static Polygon polygon(JsonNode rings, String path, int[] vertices) {
        if (!rings.isArray() || rings.isEmpty()) throw new AreaException(path + " must be a non-empty array of rings", "give at least the outer ring");
        LinearRing shell = ring(rings.get(0), path + "[0]", vertices);
        LinearRing[] holes = new LinearRing[rings.size() - 1];
        for (int i = 1; i < rings.size(); i++) holes[i - 1] = ring(rings.get(i), path + "[" + i + "]", vertices);
        return GEOMETRY.createPolygon(shell, holes);
    }

    private static LinearRing ring(JsonNode ring, String path, int[] vertices) {
        if (!ring.isArray()) throw new AreaException(path + " must be an array of positions", "write [[lon, lat], ...]");
        if (ring.size() < 4) throw new AreaException(path + " has " + ring.size() + " positions; a ring needs at least 4", "close the ring and give 3 distinct corners");
        vertices[0] += ring.size();
        if (vertices[0] > MAX_VERTICES) throw new AreaException("area has more than " + MAX_VERTICES + " vertices", "simplify the polygon");
        Coordinate[] cs = new Coordinate[ring.size()];
        for (int i = 0; i < ring.size(); i++) {
            JsonNode p = ring.get(i);
            String where = path + "[" + i + "]";
            if (!p.isArray() || p.size() < 2 || !p.get(0).isNumber() || !p.get(1).isNumber()) {
                throw new AreaException(where + " is not a [lon, lat] position", "write positions as two numbers");
            }
            double lon = p.get(0).asDouble(), lat = p.get(1).asDouble();
            if (!Double.isFinite(lon) || lon < -180 || lon > 180) throw new AreaException(where + " longitude " + lon + " is outside -180..180", "coordinates are lon, lat in degrees (lon first)");
            if (!Double.isFinite(lat) || lat < -90 || lat > 90) throw new AreaException(where + " latitude " + lat + " is outside -90..90", "coordinates are lon, lat in degrees (lon first)");
            cs[i] = new Coordinate(lon, lat);
        }
        if (!cs[0].equals2D(cs[cs.length - 1])) {
            throw new AreaException(path + " is not closed: first position " + cs[0] + " differs from last " + cs[cs.length - 1],
                    "repeat the first position at the end of the ring");
        }
        return GEOMETRY.createLinearRing(cs);
    }
}
