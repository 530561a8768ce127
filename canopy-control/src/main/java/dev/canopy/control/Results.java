package dev.canopy.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;

/** A finished prediction job's result, from the {@code summary.json} batch inference wrote. */
final class Results {
    private static final double EARTH_RADIUS_M = 6_371_008.8;

    private Results() { }

    static Map<String, Object> of(Jobs.Job job) {
        Path out = job.outputDir();
        Map<String, Object> s;
        try {
            s = Jsonb.map(Files.readString(out.resolve("summary.json")));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("job " + job.id() + " finished without summary.json", e);
        }
        double hectares = job.request().get("area_hectares") instanceof Number n ? n.doubleValue() : Double.NaN;
        Map<String, Object> cover = new LinkedHashMap<>();
        if (s.get("estimatedCover") instanceof Map<?, ?> est) {
            for (Map.Entry<?, ?> e : est.entrySet()) {
                double f = ((Number) e.getValue()).doubleValue();
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("percent", round(100 * f));
                c.put("hectares", Double.isFinite(hectares) ? round(f * hectares) : null); // an area-less job has no hectares
                cover.put(String.valueOf(e.getKey()), c);
            }
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("tiles", s.get("rows"));
        r.put("ok", s.get("ok"));
        r.put("errors", s.get("errors"));
        r.put("seconds", s.get("seconds"));
        r.put("tiles_per_second", s.get("imagesPerSecond"));
        r.put("area_hectares", Double.isFinite(hectares) ? round(hectares) : null);
        r.put("cover", cover);
        r.put("geoparquet", out.resolve("shards").toUri().toString());
        r.put("summary", out.resolve("summary.json").toUri().toString());
        r.put("features", "/v1/jobs/" + job.id() + "/features");
        return r;
    }

    /**
     * The area of a lon/lat geometry in hectares: each ring's spherical area (the trapezoid rule on a
     * sphere of the WGS 84 mean radius; within 0.5% of the ellipsoidal area away from the poles).
     */
    static double hectares(Geometry g) {
        double m2 = 0;
        for (int i = 0; i < g.getNumGeometries(); i++) {
            org.locationtech.jts.geom.Polygon p = (org.locationtech.jts.geom.Polygon) g.getGeometryN(i);
            m2 += Math.abs(ringArea(p.getExteriorRing().getCoordinates()));
            for (int h = 0; h < p.getNumInteriorRing(); h++) m2 -= Math.abs(ringArea(p.getInteriorRingN(h).getCoordinates()));
        }
        return m2 / 10_000;
    }

    private static double ringArea(Coordinate[] cs) {
        double sum = 0;
        for (int i = 0; i < cs.length - 1; i++) {
            double l1 = Math.toRadians(cs[i].x), l2 = Math.toRadians(cs[i + 1].x);
            double p1 = Math.toRadians(cs[i].y), p2 = Math.toRadians(cs[i + 1].y);
            sum += (l2 - l1) * (2 + Math.sin(p1) + Math.sin(p2));
        }
        return sum * EARTH_RADIUS_M * EARTH_RADIUS_M / 2;
    }

    private static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : v;
    }
}
