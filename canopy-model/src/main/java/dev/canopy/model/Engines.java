package dev.canopy.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

/**
 * The PyTorch engine, started once per JVM and fully offline: the native library comes from the
 * {@code pytorch-native-cpu} jar on the classpath, never from the network.
 */
public final class Engines {
    public static final String PYTORCH_VERSION = "2.7.1";
    private static volatile Engine engine;

    private Engines() { }

    public static Engine pytorch() {
        Engine e = engine;
        if (e != null) return e;
        synchronized (Engines.class) {
            if (engine == null) {
                // DJL reads these as environment variables or system properties
                setIfAbsent("ai.djl.offline", "true");
                setIfAbsent("PYTORCH_VERSION", PYTORCH_VERSION);
                setIfAbsent("PYTORCH_FLAVOR", "cpu");
                try {
                    engine = Engine.getEngine("PyTorch");
                } catch (RuntimeException ex) {
                    throw new ModelException("model.engine_unavailable", "the PyTorch engine failed to start: " + ex.getMessage(),
                            "check that pytorch-native-cpu (classifier linux-x86_64) is on the classpath", ex);
                }
            }
            return engine;
        }
    }

    public static NDManager newManager() {
        return pytorch().newBaseManager();
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) System.setProperty(key, value);
    }
}
