package dev.canopy.train;

import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** A small generated survey and a fast training config over it, for tests. */
public final class TinySurvey {
    private TinySurvey() { }

    public static Path generate(Path dir, int tiles, int tileSize, long seed) {
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore out = new FileObjectStore(dir)) {
            g.generate(SurveySpec.of(tiles, tileSize, seed), out, ProgressListener.NONE);
        }
        return dir;
    }

    public static Map<String, Object> config(Path survey, int epochs) {
        Map<String, Object> c = new HashMap<>();
        c.put("survey", survey.toString());
        c.put("model", "small-cnn");
        c.put("input_size", 32);
        c.put("batch_size", 16);
        c.put("epochs", epochs);
        c.put("decode_threads", 2);
        return c;
    }
}
