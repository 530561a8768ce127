package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** TPE on a synthetic objective: its proposals concentrate where good results were seen. */
class TpeSearcherTest {
    static double objective(Map<String, Object> c) {
        double lr = ((Number) c.get("lr")).doubleValue();
        return 1 - Math.abs(Math.log10(lr) + 2.5); // best at lr = 10^-2.5
    }

    @Test
    void proposesNearTheBestRegionMoreOftenThanRandom() {
        SearchSpace space = SearchSpace.parse("lr: {loguniform: [0.00001, 1.0]}\nbs: {choice: [16, 32, 64]}");
        TpeSearcher tpe = new TpeSearcher(space, 7, "val", true);
        RandomSearcher random = new RandomSearcher(space, 7);
        List<Trial> history = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Map<String, Object> c = random.suggest(i, history);
            Trial t = new Trial("t" + i, i, c);
            t.getResults().add(new TrialResult(t.id(), 1, Map.of("val", objective(c))));
            t.setStatus(Trial.Status.COMPLETED);
            history.add(t);
        }
        double tpeDistance = 0, randomDistance = 0;
        for (int i = 20; i < 60; i++) {
            tpeDistance += 1 - objective(tpe.suggest(i, history));
            randomDistance += 1 - objective(random.suggest(i, history));
        }
        assertThat(tpeDistance).isLessThan(0.6 * randomDistance);
        // the first proposals, before enough history, are plain random samples
        assertThat(new TpeSearcher(space, 7, "val", true).suggest(0, List.of())).containsKeys("lr", "bs");
    }
}
