package dev.canopy.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The one folder where Canopy keeps its own state: model registry, job records, caches and logs.
 * Chosen, in order, by an explicit path (the CLI's {@code --home}), the {@code CANOPY_HOME}
 * environment variable, then {@code ./canopy-data}.
 */
public record CanopyHome(Path root) {
    public static final String ENV = "CANOPY_HOME";
    public static final String DEFAULT_DIR = "canopy-data";

    public CanopyHome {
        root = root.toAbsolutePath().normalize();
    }

    public static CanopyHome resolve(Path explicit) {
        return resolve(explicit, System.getenv());
    }

    static CanopyHome resolve(Path explicit, Map<String, String> env) {
        if (explicit != null) {
            return new CanopyHome(explicit);
        }
        String fromEnv = env.get(ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return new CanopyHome(Path.of(fromEnv));
        }
        return new CanopyHome(Path.of(DEFAULT_DIR));
    }

    public Path surveys() { return dir("surveys"); }
    public Path registry() { return dir("registry"); }
    public Path runs() { return dir("runs"); }
    public Path jobs() { return dir("jobs"); }
    public Path cache() { return dir("cache"); }
    public Path logs() { return dir("logs"); }

    /** A sub-folder of the home, created if missing. */
    public Path dir(String name) {
        Path p = root.resolve(name);
        try {
            Files.createDirectories(p);
        } catch (java.io.IOException e) {
            throw new CanopyException("home.unwritable", "cannot create " + p + ": " + e.getMessage(),
                    "choose a writable folder with --home or CANOPY_HOME", e);
        }
        return p;
    }
}
