package dev.canopy.tune;

import dev.canopy.api.train.Trainable;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How to make a trial's {@link Trainable}: a class with a public no-argument constructor, plus the
 * settings every trial shares (the survey, max epochs...), onto which a trial's configuration is
 * laid. Serializable so that a Spark executor can build trainables too.
 */
public record TrainableFactory(String className, Map<String, Object> base) implements Serializable {
    public Trainable create() {
        try {
            return (Trainable) Class.forName(className).getConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new TuneException("cannot create trainable " + className + ": " + e, "give a class implementing Trainable with a public no-arg constructor");
        }
    }

    public Map<String, Object> merge(Map<String, Object> trialConfig) {
        Map<String, Object> m = new LinkedHashMap<>(base);
        m.putAll(trialConfig);
        return m;
    }
}
