package dev.canopy.api;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The version of Canopy's code that is running, stored in the provenance of models and runs. */
public final class CodeVersion {
    private static final String VERSION = load();

    private CodeVersion() { }

    public static String get() {
        return VERSION;
    }

    private static String load() {
        try (InputStream in = CodeVersion.class.getResourceAsStream("/canopy-version.properties")) {
            if (in == null) return "dev";
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "dev");
            String commit = p.getProperty("commit", "");
            return commit.isBlank() || commit.startsWith("$") ? v : v + "+" + commit;
        } catch (IOException e) {
            return "dev";
        }
    }
}
