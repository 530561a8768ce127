package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TuneSettingsTest {
    static final String SPACE = "learning_rate: {loguniform: [0.0001, 0.1]}\nbatch_size: {choice: [16, 32, 64]}\n";

    @Test
    void roundTripsThroughTheStoredMapWithSnakeCaseKeys() {
        TuneSettings s = TuneSettings.defaults("file:///s", SPACE).withSamples(7).withInputSize(32).withReductionFactor(2.5);
        Map<String, Object> m = s.toMap();
        assertThat(m).containsEntry("samples", 7).containsEntry("max_t", 8).containsEntry("input_size", 32).containsKey("no_register");
        assertThat(TuneSettings.fromMap(m)).isEqualTo(s);
        assertThat(s.trainableBase()).containsEntry("epochs", 8).containsEntry("input_size", 32).containsEntry("survey", "file:///s");
        assertThat(s.trialSettings(Map.of("learning_rate", 0.01))).containsEntry("learning_rate", 0.01).containsEntry("epochs", 8);
    }

    @Test
    void theRefinedStageSearchesANarrowerSpaceAroundTheBest() {
        TuneSettings s = TuneSettings.defaults("file:///s", SPACE).withRefine(true);
        ExperimentState first = new ExperimentState();
        double[][] trials = {{0.001, 16, 0.9}, {0.002, 32, 0.8}, {0.05, 64, 0.3}, {0.0005, 16, 0.5}};
        for (int i = 0; i < trials.length; i++) {
            Trial t = new Trial("t" + i, i, Map.of("learning_rate", trials[i][0], "batch_size", (int) trials[i][1]));
            t.getResults().add(new dev.canopy.api.tune.TrialResult(t.id(), 1, Map.of("val_accuracy", trials[i][2])));
            first.trials.add(t);
        }
        TuneSettings second = Tuning.refined(s.withSpace(SPACE), first);
        assertThat(second.refine()).isFalse();
        assertThat(second.seed()).isEqualTo(s.seed() + 1);
        SearchSpace narrowed = second.searchSpace();
        Domain.LogUniform lr = (Domain.LogUniform) narrowed.params().get("learning_rate");
        assertThat(lr.low()).isGreaterThan(0.0001);
        assertThat(lr.high()).isLessThan(0.05); // the worst trial's value is outside
        // the top three used 16 and 32 (as Integers, as read back from experiment.json); the space holds Longs
        assertThat(((Domain.Choice) narrowed.params().get("batch_size")).values()).containsExactlyInAnyOrder(16L, 32L);
        // the space survives its JSON form
        assertThat(SearchSpace.parse(narrowed.toJson()).params()).isEqualTo(narrowed.params());
        assertThat(List.of(s.score(first.trials.get(0)), s.score(first.trials.get(2)))).isSortedAccordingTo((a, b) -> Double.compare(b, a));
    }
}
