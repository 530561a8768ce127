package dev.canopy.tune;

import java.util.List;
import java.util.Map;
import java.util.Random;

/** The values one hyperparameter may take. Samples are plain JSON values (numbers, strings, maps). */
public sealed interface Domain {
    Object sample(Random rng);

    /** Uniform real in [low, high]. */
    record Uniform(double low, double high) implements Domain {
        public Object sample(Random rng) {
            return low + (high - low) * rng.nextDouble();
        }
    }

    /** Log-uniform real in [low, high], low > 0. */
    record LogUniform(double low, double high) implements Domain {
        public Object sample(Random rng) {
            return Math.exp(Math.log(low) + (Math.log(high) - Math.log(low)) * rng.nextDouble());
        }
    }

    /** Integer in [low, high) stepped by q (q = 1 for randint); qrandint includes high when reachable. */
    record IntRange(long low, long high, long q, boolean inclusive) implements Domain {
        public Object sample(Random rng) {
            long top = inclusive ? high : high - 1;
            long steps = (top - low) / q;
            return low + q * (long) Math.floor(rng.nextDouble() * (steps + 1));
        }
    }

    /** One of a list of values; a value may itself be a map of parameters (conditional branches). */
    record Choice(List<Object> values) implements Domain {
        public Object sample(Random rng) {
            return values.get(rng.nextInt(values.size()));
        }
    }

    /** Every value is tried by the grid searcher; random search samples uniformly among them. */
    record Grid(List<Object> values) implements Domain {
        public Object sample(Random rng) {
            return values.get(rng.nextInt(values.size()));
        }
    }

    /** A fixed value. */
    record Constant(Object value) implements Domain {
        public Object sample(Random rng) {
            return value;
        }
    }

    /** A group of named parameters (a nested block). */
    record Group(Map<String, Domain> children) implements Domain {
        public Object sample(Random rng) {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            children.forEach((k, d) -> m.put(k, d.sample(rng)));
            return m;
        }
    }
}
