package dev.canopy.batch;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.canopy.api.Json;

/** The {@code geo} file metadata of GeoParquet 1.1 for Canopy's prediction shards. */
public final class GeoParquet {
    public static final String KEY = "geo";
    public static final String VERSION = "1.1.0";
    public static final String GEOMETRY_COLUMN = "geometry";
    public static final String BBOX_COLUMN = "bbox";

    private GeoParquet() { }

    /** PROJJSON of OGC:CRS84 (WGS 84, longitude first), the CRS of every Canopy footprint. */
    static ObjectNode crs84() {
        ObjectNode crs = Json.MAPPER.createObjectNode();
        crs.put("$schema", "https://proj.org/schemas/v0.7/projjson.schema.json");
        crs.put("type", "GeographicCRS");
        crs.put("name", "WGS 84 (CRS84)");
        ObjectNode datum = crs.putObject("datum_ensemble");
        datum.put("name", "World Geodetic System 1984 ensemble");
        ArrayNode members = datum.putArray("members");
        for (String m : new String[] {"World Geodetic System 1984 (Transit)", "World Geodetic System 1984 (G730)",
                "World Geodetic System 1984 (G873)", "World Geodetic System 1984 (G1150)", "World Geodetic System 1984 (G1674)",
                "World Geodetic System 1984 (G1762)", "World Geodetic System 1984 (G2139)"}) {
            members.addObject().put("name", m);
        }
        ObjectNode ellipsoid = datum.putObject("ellipsoid");
        ellipsoid.put("name", "WGS 84");
        ellipsoid.put("semi_major_axis", 6378137);
        ellipsoid.put("inverse_flattening", 298.257223563);
        datum.putObject("accuracy").put("value", "2.0");
        ObjectNode cs = crs.putObject("coordinate_system");
        cs.put("subtype", "ellipsoidal");
        ArrayNode axes = cs.putArray("axis");
        axes.addObject().put("name", "Geodetic longitude").put("abbreviation", "Lon").put("direction", "east").put("unit", "degree");
        axes.addObject().put("name", "Geodetic latitude").put("abbreviation", "Lat").put("direction", "north").put("unit", "degree");
        crs.putObject("id").put("authority", "OGC").put("code", "CRS84");
        return crs;
    }

    /** The metadata JSON for a file whose geometries span the given box. */
    public static String metadata(double minX, double minY, double maxX, double maxY) {
        ObjectNode geo = Json.MAPPER.createObjectNode();
        geo.put("version", VERSION);
        geo.put("primary_column", GEOMETRY_COLUMN);
        ObjectNode col = geo.putObject("columns").putObject(GEOMETRY_COLUMN);
        col.put("encoding", "WKB");
        col.putArray("geometry_types").add("Polygon");
        col.set("crs", crs84());
        col.put("orientation", "counterclockwise");
        if (minX <= maxX) col.putArray("bbox").add(minX).add(minY).add(maxX).add(maxY);
        ObjectNode cover = col.putObject("covering").putObject("bbox");
        cover.putArray("xmin").add(BBOX_COLUMN).add("xmin");
        cover.putArray("ymin").add(BBOX_COLUMN).add("ymin");
        cover.putArray("xmax").add(BBOX_COLUMN).add("xmax");
        cover.putArray("ymax").add(BBOX_COLUMN).add("ymax");
        try {
            return Json.MAPPER.copy().disable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(geo);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
