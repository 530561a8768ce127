package dev.canopy.api;

import java.util.List;

/** The JDK packages Spark (and so every Spark JVM Canopy starts: drivers, executors, masters, workers) needs opened on Java 17. */
public final class JavaOpens {
    private JavaOpens() { }

    public static final List<String> PACKAGES = List.of("java.base/java.lang", "java.base/java.lang.invoke", "java.base/java.lang.reflect",
            "java.base/java.io", "java.base/java.net", "java.base/java.nio", "java.base/java.util", "java.base/java.util.concurrent",
            "java.base/java.util.concurrent.atomic", "java.base/jdk.internal.ref", "java.base/sun.nio.ch", "java.base/sun.nio.cs",
            "java.base/sun.security.action", "java.base/sun.util.calendar", "java.security.jgss/sun.security.krb5");

    /** {@code --add-opens=P=ALL-UNNAMED} for each package. */
    public static List<String> flags() {
        return PACKAGES.stream().map(p -> "--add-opens=" + p + "=ALL-UNNAMED").toList();
    }
}
