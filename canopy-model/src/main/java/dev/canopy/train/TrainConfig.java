package dev.canopy.train;

import dev.canopy.api.train.TrainingException;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Everything that decides a training run. Stored with every checkpoint and model package as
 * provenance; {@link #toMap()} and {@link #fromMap(Map)} round-trip exactly, and unknown keys are
 * errors so that a typo in a tuning space never silently trains with a default.
 */
public record TrainConfig(String survey, String architecture, int inputSize, int batchSize, int epochs, double learningRate,
                          String lrSchedule, double weightDecay, long seed, int valPercent, boolean augment,
                          boolean classWeights, int decodeThreads, int maxTiles, String valSurvey, int workers) {
    public static final String DEFAULT_ARCHITECTURE = "small-cnn";
    public static final int DEFAULT_BATCH_SIZE = 64;
    public static final int DEFAULT_EPOCHS = 8;
    public static final double DEFAULT_LEARNING_RATE = 0.003;
    public static final String DEFAULT_LR_SCHEDULE = "cosine";
    public static final double DEFAULT_WEIGHT_DECAY = 1e-4;
    public static final long DEFAULT_SEED = 42;
    public static final int DEFAULT_VAL_PERCENT = 20;
    public static final Set<String> SCHEDULES = Set.of("constant", "cosine", "step");

    public TrainConfig {
        Architecture.of(architecture); // validates the name
        if (survey == null || survey.isBlank()) throw bad("survey", survey, "give the survey location");
        if (inputSize < 16 || inputSize > 1024) throw bad("input_size", inputSize, "use 16..1024");
        if (batchSize < 1 || batchSize > 4096) throw bad("batch_size", batchSize, "use 1..4096");
        if (epochs < 1 || epochs > 10_000) throw bad("epochs", epochs, "use 1..10000");
        if (!(learningRate > 0 && learningRate < 10)) throw bad("learning_rate", learningRate, "use a value in (0, 10)");
        if (!SCHEDULES.contains(lrSchedule)) throw bad("lr_schedule", lrSchedule, "use one of " + new TreeSet<>(SCHEDULES));
        if (!(weightDecay >= 0 && weightDecay < 1)) throw bad("weight_decay", weightDecay, "use a value in [0, 1)");
        if (valPercent < 1 || valPercent > 90) throw bad("val_percent", valPercent, "use 1..90");
        if (decodeThreads < 1 || decodeThreads > 256) throw bad("decode_threads", decodeThreads, "use 1..256");
        if (maxTiles < 0) throw bad("max_tiles", maxTiles, "use 0 (all) or a positive limit");
        if (workers < 1 || workers > 256) throw bad("workers", workers, "use 1..256");
        if (workers > batchSize) throw bad("workers", workers, "use at most batch_size (" + batchSize + ") workers: each takes a slice of every batch");
    }

    public static TrainConfig defaults(String survey) {
        return new TrainConfig(survey, DEFAULT_ARCHITECTURE, Architecture.SMALL_CNN.defaultInputSize(), DEFAULT_BATCH_SIZE,
                DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, DEFAULT_LR_SCHEDULE, DEFAULT_WEIGHT_DECAY, DEFAULT_SEED, DEFAULT_VAL_PERCENT,
                true, true, Math.max(1, Runtime.getRuntime().availableProcessors()), 0, null, 1);
    }

    private static TrainingException bad(String key, Object value, String fix) {
        return new TrainingException("train.bad_config", "invalid training setting " + key + "=" + value, fix);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("survey", survey);
        m.put("model", architecture);
        m.put("input_size", inputSize);
        m.put("batch_size", batchSize);
        m.put("epochs", epochs);
        m.put("learning_rate", learningRate);
        m.put("lr_schedule", lrSchedule);
        m.put("weight_decay", weightDecay);
        m.put("seed", seed);
        m.put("val_percent", valPercent);
        m.put("augment", augment);
        m.put("class_weights", classWeights);
        m.put("decode_threads", decodeThreads);
        m.put("max_tiles", maxTiles);
        // validation tiles from another manifest (a spatial split made beforehand) instead of a hash split of the survey
        m.put("val_survey", valSurvey);
        // data-parallel ranks; each global batch of batch_size is cut into this many slices whose gradients are summed
        // (by an all-reduce across workers, or one after the other in one process): the result depends on it, so it is
        // part of the configuration, and a run resumes with its own value whatever runs it
        m.put("workers", workers);
        return m;
    }

    /** Reads a config; keys missing from {@code m} take defaults, unknown keys are rejected by name. */
    public static TrainConfig fromMap(Map<String, ?> m) {
        Object survey = m.get("survey");
        if (survey == null) throw bad("survey", null, "give the survey location");
        Map<String, Object> base = defaults(survey.toString()).toMap();
        for (String k : m.keySet()) {
            if (!base.containsKey(k)) {
                throw new TrainingException("train.unknown_setting", "unknown training setting '" + k + "'", "known settings: " + base.keySet());
            }
        }
        Map<String, Object> v = new LinkedHashMap<>(base);
        v.putAll(m);
        String arch = str(v, "model");
        // a model change without an explicit input size takes that model's default size
        int input = m.containsKey("input_size") ? integer(v, "input_size") : Architecture.of(arch).defaultInputSize();
        return new TrainConfig(str(v, "survey"), Architecture.of(arch).id(), input, integer(v, "batch_size"), integer(v, "epochs"),
                number(v, "learning_rate"), str(v, "lr_schedule").toLowerCase(Locale.ROOT), number(v, "weight_decay"),
                (long) number(v, "seed"), integer(v, "val_percent"), bool(v, "augment"), bool(v, "class_weights"),
                integer(v, "decode_threads"), integer(v, "max_tiles"), v.get("val_survey") == null ? null : str(v, "val_survey"),
                integer(v, "workers"));
    }

    private static String str(Map<String, Object> m, String k) {
        return String.valueOf(m.get(k));
    }

    private static double number(Map<String, Object> m, String k) {
        Object o = m.get(k);
        if (o instanceof Number n) return n.doubleValue();
        try {
            return Double.parseDouble(String.valueOf(o));
        } catch (NumberFormatException e) {
            throw bad(k, o, "give a number");
        }
    }

    private static int integer(Map<String, Object> m, String k) {
        double d = number(m, k);
        if (d != Math.rint(d)) throw bad(k, m.get(k), "give a whole number");
        return (int) d;
    }

    private static boolean bool(Map<String, Object> m, String k) {
        Object o = m.get(k);
        if (o instanceof Boolean b) return b;
        String s = String.valueOf(o);
        if (s.equals("true") || s.equals("false")) return Boolean.parseBoolean(s);
        throw bad(k, o, "give true or false");
    }

    /** A copy with another worker count (the same run, cut into {@code n} slices per batch). */
    public TrainConfig withWorkers(int n) {
        return new TrainConfig(survey, architecture, inputSize, batchSize, epochs, learningRate, lrSchedule, weightDecay, seed, valPercent,
                augment, classWeights, decodeThreads, maxTiles, valSurvey, n);
    }

    /** Learning rate at update {@code t} (from 1) of {@code total}. */
    public double learningRateAt(int t, int total) {
        return switch (lrSchedule) {
            case "cosine" -> learningRate * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1.0, (t - 1) / (double) Math.max(1, total)))));
            case "step" -> learningRate * Math.pow(0.1, Math.floor(3.0 * (t - 1) / Math.max(1, total)));
            default -> learningRate;
        };
    }
}
