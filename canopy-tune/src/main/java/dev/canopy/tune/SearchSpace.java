package dev.canopy.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A search space written in JSON or YAML, one key per hyperparameter:
 * <pre>
 * learning_rate: {loguniform: [0.0001, 0.01]}
 * weight_decay:  {uniform: [0.0, 0.001]}
 * batch_size:    {choice: [16, 32, 64]}
 * input_size:    {qrandint: [32, 64, 16]}
 * seed:          {randint: [0, 1000]}
 * lr_schedule:   {grid_search: [cosine, constant]}
 * epochs: 10                                   # a constant
 * augment_block: {choice: [{augment: true}, {augment: false, class_weights: false}]}   # conditional
 * </pre>
 * Keys of a map chosen by {@code choice} exist only in the configurations where it was chosen.
 * Configurations are flattened: nested maps merge their keys into the top level.
 */
public final class SearchSpace {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Set<String> KINDS = Set.of("uniform", "loguniform", "randint", "qrandint", "choice", "grid_search");

    private final Map<String, Domain> params;

    public SearchSpace(Map<String, Domain> params) {
        if (params.isEmpty()) throw new TuneException("the search space is empty", "give at least one parameter");
        this.params = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(params)); // sorted: draws happen in one order in every JVM
    }

    public Map<String, Domain> params() {
        return params;
    }

    public static SearchSpace parse(String text) {
        JsonNode root;
        try {
            String t = text.strip();
            root = t.startsWith("{") ? JSON.readTree(t) : YAML.readTree(t);
        } catch (IOException e) {
            throw new TuneException("the search space is not valid JSON or YAML: " + e.getMessage(), "check the file's syntax");
        }
        if (root == null || !root.isObject()) throw new TuneException("the search space must be a map of parameter names", "e.g. learning_rate: {loguniform: [1e-4, 1e-2]}");
        return new SearchSpace(group(root, "").children());
    }

    private static Domain.Group group(JsonNode obj, String path) {
        Map<String, Domain> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            out.put(e.getKey(), domain(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey()));
        }
        return new Domain.Group(out);
    }

    private static Domain domain(JsonNode n, String key) {
        if (!n.isObject()) return new Domain.Constant(value(n));
        if (n.size() == 1) {
            String kind = n.fieldNames().next();
            if (KINDS.contains(kind)) return typed(kind, n.get(kind), key);
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (KINDS.contains(f) && n.size() > 1) {
                throw new TuneException("parameter '" + key + "' mixes '" + f + "' with other keys", "write {" + f + ": [...]} alone");
            }
        }
        return group(n, key);
    }

    private static Domain typed(String kind, JsonNode args, String key) {
        if (!args.isArray()) throw new TuneException("parameter '" + key + "': " + kind + " needs a list", "e.g. " + key + ": {" + kind + ": [...]}");
        switch (kind) {
            case "uniform", "loguniform" -> {
                double[] a = numbers(args, key, kind, 2);
                if (!(a[0] < a[1])) throw new TuneException("parameter '" + key + "': " + kind + " needs low < high, got " + a[0] + ", " + a[1], "swap or fix the bounds");
                if (kind.equals("loguniform") && a[0] <= 0) throw new TuneException("parameter '" + key + "': loguniform needs low > 0, got " + a[0], "use a positive lower bound");
                return kind.equals("uniform") ? new Domain.Uniform(a[0], a[1]) : new Domain.LogUniform(a[0], a[1]);
            }
            case "randint" -> {
                double[] a = numbers(args, key, kind, 2);
                if (a[0] != Math.rint(a[0]) || a[1] != Math.rint(a[1]) || !(a[0] < a[1])) {
                    throw new TuneException("parameter '" + key + "': randint needs whole low < high, got " + args, "e.g. [0, 10]");
                }
                return new Domain.IntRange((long) a[0], (long) a[1], 1, false);
            }
            case "qrandint" -> {
                double[] a = numbers(args, key, kind, 3);
                if (a[2] < 1 || a[2] != Math.rint(a[2]) || !(a[0] <= a[1])) {
                    throw new TuneException("parameter '" + key + "': qrandint needs [low, high, q] with whole q >= 1, got " + args, "e.g. [32, 128, 16]");
                }
                return new Domain.IntRange((long) a[0], (long) a[1], (long) a[2], true);
            }
            default -> {
                if (args.isEmpty()) throw new TuneException("parameter '" + key + "': " + kind + " needs at least one value", "list the values");
                List<Object> values = new ArrayList<>();
                for (JsonNode v : args) {
                    if (v.isObject()) {
                        Domain.Group g = group(v, key);
                        values.add(g);
                    } else {
                        values.add(value(v));
                    }
                }
                return kind.equals("choice") ? new Domain.Choice(values) : new Domain.Grid(values);
            }
        }
    }

    private static double[] numbers(JsonNode args, String key, String kind, int n) {
        if (args.size() != n) throw new TuneException("parameter '" + key + "': " + kind + " needs " + n + " numbers, got " + args.size(), "e.g. " + kind + ": [low, high" + (n == 3 ? ", q" : "") + "]");
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            if (!args.get(i).isNumber()) throw new TuneException("parameter '" + key + "': " + kind + " value " + args.get(i) + " is not a number", "write numbers");
            out[i] = args.get(i).asDouble();
        }
        return out;
    }

    private static Object value(JsonNode v) {
        if (v.isIntegralNumber()) return v.asLong();
        if (v.isNumber()) return v.asDouble();
        if (v.isBoolean()) return v.asBoolean();
        if (v.isNull()) return null;
        if (v.isTextual()) return v.asText();
        return JSON.convertValue(v, Object.class);
    }

    /** A random flat configuration. */
    public Map<String, Object> sample(Random rng) {
        Map<String, Object> flat = new LinkedHashMap<>();
        params.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> put(flat, e.getKey(), e.getValue(), rng));
        return flat;
    }

    private static void put(Map<String, Object> flat, String key, Domain d, Random rng) {
        Object v = d.sample(rng);
        if (v instanceof Domain.Group g) {
            g.children().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> put(flat, e.getKey(), e.getValue(), rng));
        } else if (d instanceof Domain.Group g) {
            g.children().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> put(flat, e.getKey(), e.getValue(), rng));
        } else {
            flat.put(key, v);
        }
    }

    /** Every grid point of the {@code grid_search} and {@code choice} parameters (other domains sampled). */
    public List<Map<String, Object>> grid(Random rng) {
        List<Map<String, Object>> out = new ArrayList<>();
        out.add(new LinkedHashMap<>());
        for (Map.Entry<String, Domain> e : params.entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
            List<Object> values = e.getValue() instanceof Domain.Grid g ? g.values()
                    : e.getValue() instanceof Domain.Choice c ? c.values() : null;
            List<Map<String, Object>> next = new ArrayList<>();
            for (Map<String, Object> partial : out) {
                if (values == null) {
                    Map<String, Object> m = new LinkedHashMap<>(partial);
                    put(m, e.getKey(), e.getValue(), rng);
                    next.add(m);
                } else {
                    for (Object v : values) {
                        Map<String, Object> m = new LinkedHashMap<>(partial);
                        put(m, e.getKey(), new Domain.Constant(v), rng);
                        next.add(m);
                    }
                }
            }
            out = next;
        }
        return out;
    }

    /**
     * A narrower space around the given configurations (coarse-then-fine): numeric ranges shrink
     * to the span of the top values (padded by 10% of the old range, clipped to it), choices keep
     * only the values the top configurations used.
     */
    public SearchSpace narrow(List<Map<String, Object>> top) {
        Map<String, Domain> out = new LinkedHashMap<>();
        for (Map.Entry<String, Domain> e : params.entrySet()) {
            String k = e.getKey();
            List<Object> seen = top.stream().map(c -> c.get(k)).filter(java.util.Objects::nonNull).toList();
            Domain d = e.getValue();
            if (seen.isEmpty()) {
                out.put(k, d);
                continue;
            }
            if (d instanceof Domain.Uniform u) {
                double[] mm = span(seen, u.high() - u.low());
                out.put(k, new Domain.Uniform(Math.max(u.low(), mm[0]), Math.min(u.high(), mm[1])));
            } else if (d instanceof Domain.LogUniform l) {
                List<Object> logs = seen.stream().map(v -> (Object) Math.log(((Number) v).doubleValue())).toList();
                double[] mm = span(logs, Math.log(l.high()) - Math.log(l.low()));
                out.put(k, new Domain.LogUniform(Math.max(l.low(), Math.exp(mm[0])), Math.min(l.high(), Math.exp(mm[1]))));
            } else if (d instanceof Domain.IntRange r) {
                long lo = seen.stream().mapToLong(v -> ((Number) v).longValue()).min().orElse(r.low());
                long hi = seen.stream().mapToLong(v -> ((Number) v).longValue()).max().orElse(r.high());
                long pad = Math.max(r.q(), (r.high() - r.low()) / 10 / r.q() * r.q());
                long nlo = Math.max(r.low(), lo - pad);
                long nhi = Math.min(r.inclusive() ? r.high() : r.high() - 1, hi + pad);
                out.put(k, new Domain.IntRange(nlo, nhi, r.q(), true));
            } else if (d instanceof Domain.Choice c && c.values().stream().noneMatch(v -> v instanceof Domain.Group)) {
                List<Object> kept = c.values().stream().filter(v -> seen.stream().anyMatch(x -> same(v, x))).toList();
                out.put(k, new Domain.Choice(kept.isEmpty() ? c.values() : kept));
            } else if (d instanceof Domain.Grid g) {
                List<Object> kept = g.values().stream().filter(v -> seen.stream().anyMatch(x -> same(v, x))).toList();
                out.put(k, new Domain.Grid(kept.isEmpty() ? g.values() : kept));
            } else {
                out.put(k, d);
            }
        }
        return new SearchSpace(out);
    }

    /** This space as JSON text that {@link #parse} reads back to an equal space. */
    public String toJson() {
        return dev.canopy.api.Json.writeString(toJson(new Domain.Group(params)));
    }

    private static Object toJson(Domain d) {
        if (d instanceof Domain.Uniform u) return Map.of("uniform", List.of(u.low(), u.high()));
        if (d instanceof Domain.LogUniform l) return Map.of("loguniform", List.of(l.low(), l.high()));
        if (d instanceof Domain.IntRange r) {
            return r.inclusive() ? Map.of("qrandint", List.of(r.low(), r.high(), r.q())) : Map.of("randint", List.of(r.low(), r.high()));
        }
        if (d instanceof Domain.Choice c) return Map.of("choice", c.values().stream().map(v -> v instanceof Domain.Group g ? toJson(g) : v).toList());
        if (d instanceof Domain.Grid g) return Map.of("grid_search", g.values());
        if (d instanceof Domain.Constant c) return c.value();
        if (d instanceof Domain.Group g) {
            Map<String, Object> m = new LinkedHashMap<>();
            g.children().forEach((k, v) -> m.put(k, toJson(v)));
            return m;
        }
        throw new IllegalStateException("unknown domain " + d);
    }

    /** Equal values, numbers by value (a configuration read back from JSON holds 16 as an Integer, the space as a Long). */
    static boolean same(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) {
            return (x instanceof Double || x instanceof Float || y instanceof Double || y instanceof Float)
                    ? x.doubleValue() == y.doubleValue() : x.longValue() == y.longValue();
        }
        return java.util.Objects.equals(a, b);
    }

    private static double[] span(List<Object> values, double oldRange) {
        double lo = values.stream().mapToDouble(v -> ((Number) v).doubleValue()).min().orElseThrow();
        double hi = values.stream().mapToDouble(v -> ((Number) v).doubleValue()).max().orElseThrow();
        double pad = 0.1 * oldRange;
        return new double[] {lo - pad, hi + pad};
    }
}
