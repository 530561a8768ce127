package dev.canopy.tune;

import static dev.canopy.api.tune.Decision.CONTINUE;
import static dev.canopy.api.tune.Decision.STOP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Median stopping (Golovin et al. 2017) on hand-computed examples; dyadic values keep medians exact. */
class MedianStoppingWorkedExampleTest {
    static final Objective ACC = new Objective("val_accuracy", true);
    static final Objective LOSS = new Objective("loss", false);

    private static Decision report(MedianStoppingRule rule, String id, int iteration, String metric, double value) {
        return rule.onTrialResult(new Trial(id, 0, Map.of()), new TrialResult(id, iteration, Map.of(metric, value)));
    }

    private static Decision acc(MedianStoppingRule rule, String id, int iteration, double value) {
        return report(rule, id, iteration, "val_accuracy", value);
    }

    /** The others report once each (too few to judge: min_samples = their count), then the probe reports at iteration 1. */
    private static Decision probe(double probe, double... others) {
        MedianStoppingRule rule = new MedianStoppingRule(ACC, 1, others.length);
        for (int i = 0; i < others.length; i++) assertThat(acc(rule, "o" + i, 1, others[i])).isEqualTo(CONTINUE);
        return acc(rule, "probe", 1, probe);
    }

    @Test
    void oddNumberOfOthersComparesWithTheMiddleValueWhateverTheReportingOrder() {
        // median of {0.125, 0.5, 0.875} is 0.5; the rotations put each value under each trial id,
        // so the result cannot depend on the order the rule happens to collect the others in
        double[][] rotations = {{0.875, 0.125, 0.5}, {0.5, 0.875, 0.125}, {0.125, 0.5, 0.875}};
        for (double[] others : rotations) {
            assertThat(probe(0.375, others)).as("0.375 vs %s", Arrays.toString(others)).isEqualTo(STOP);
            assertThat(probe(0.5, others)).as("0.5 vs %s", Arrays.toString(others)).isEqualTo(CONTINUE);
            assertThat(probe(0.625, others)).as("0.625 vs %s", Arrays.toString(others)).isEqualTo(CONTINUE);
        }
    }

    @Test
    void evenNumberOfOthersComparesWithTheMeanOfTheTwoMiddleValues() {
        // median of {0.25, 0.75} is 0.5
        assertThat(probe(0.4375, 0.25, 0.75)).isEqualTo(STOP);
        assertThat(probe(0.5, 0.25, 0.75)).isEqualTo(CONTINUE);    // equal to the median is not below it
        assertThat(probe(0.5625, 0.25, 0.75)).isEqualTo(CONTINUE);
        // median of {1.0, 0.125, 0.75, 0.25} is (0.25 + 0.75) / 2
        assertThat(probe(0.4375, 1.0, 0.125, 0.75, 0.25)).isEqualTo(STOP);
        assertThat(probe(0.5, 1.0, 0.125, 0.75, 0.25)).isEqualTo(CONTINUE);
        // a single other trial, with exactly as many results as the iteration, counts
        assertThat(probe(0.25, 0.5)).isEqualTo(STOP);
        assertThat(probe(0.5, 0.5)).isEqualTo(CONTINUE);
    }

    @Test
    void aReRunIterationReplacesTheResultItReportedBefore() {
        MedianStoppingRule rule = new MedianStoppingRule(ACC, 1, 1);
        assertThat(acc(rule, "a", 1, 0.5)).isEqualTo(CONTINUE);
        assertThat(acc(rule, "b", 1, 0.875)).isEqualTo(CONTINUE);
        // b is restored and iteration 1 is trained again: only the new 0.125 counts as its best
        assertThat(acc(rule, "b", 1, 0.125)).isEqualTo(STOP);
    }

    @Test
    void othersAreAveragedOnlyOverTheFirstTIterations() {
        MedianStoppingRule rule = new MedianStoppingRule(ACC, 1, 1);
        assertThat(acc(rule, "a", 1, 0.25)).isEqualTo(CONTINUE);
        assertThat(acc(rule, "a", 2, 0.75)).isEqualTo(CONTINUE);
        assertThat(acc(rule, "a", 3, 1.0)).isEqualTo(CONTINUE);
        assertThat(acc(rule, "b", 1, 0.5)).isEqualTo(CONTINUE);   // a's average over 1 iteration: 0.25
        assertThat(acc(rule, "b", 2, 0.375)).isEqualTo(CONTINUE); // b's best 0.5 == a's average over 2 iterations
        assertThat(acc(rule, "b", 3, 0.25)).isEqualTo(STOP);      // 0.5 < a's average over 3 iterations (2/3)
    }

    @Test
    void nothingIsJudgedBeforeTheGracePeriod() {
        MedianStoppingRule rule = new MedianStoppingRule(ACC, 2, 1);
        assertThat(acc(rule, "a", 1, 0.75)).isEqualTo(CONTINUE);
        assertThat(acc(rule, "b", 1, 0.125)).isEqualTo(CONTINUE); // iteration 1 < grace period 2
        assertThat(acc(rule, "a", 2, 0.75)).isEqualTo(CONTINUE);  // b has no iteration-2 result yet
        assertThat(acc(rule, "b", 2, 0.125)).isEqualTo(STOP);     // 0.125 < a's average 0.75
    }

    @Test
    void aDivergedTrialStopsAndDoesNotDragTheMedian() {
        MedianStoppingRule rule = new MedianStoppingRule(ACC, 1, 1);
        assertThat(acc(rule, "a", 1, 0.5)).isEqualTo(CONTINUE);
        assertThat(acc(rule, "nan", 1, Double.NaN)).isEqualTo(STOP);  // worst possible score
        assertThat(acc(rule, "c", 1, 0.25)).isEqualTo(STOP);          // the median is a's 0.5, not something with the NaN in it
    }

    @Test
    void minModeStopsTheHigherLoss() {
        MedianStoppingRule rule = new MedianStoppingRule(LOSS, 1, 1);
        assertThat(report(rule, "a", 1, "loss", 0.25)).isEqualTo(CONTINUE);
        assertThat(report(rule, "b", 1, "loss", 0.5)).isEqualTo(STOP);      // -0.5 < median -0.25
        assertThat(report(rule, "c", 1, "loss", 0.125)).isEqualTo(CONTINUE); // -0.125 >= (-0.5 + -0.25) / 2
    }

    @Test
    void constructorBoundariesAndPlan() {
        assertThatThrownBy(() -> new MedianStoppingRule(ACC, 0, 3)).isInstanceOf(TuneException.class)
                .hasMessageContaining("grace_period must be >= 1, got 0");
        assertThatThrownBy(() -> new MedianStoppingRule(ACC, 1, 0)).isInstanceOf(TuneException.class)
                .hasMessageContaining("min_samples_required must be >= 1");
        assertThat(new MedianStoppingRule(ACC, 2, 3).describePlan(10)).isEqualTo(
                "Median stopping on val_accuracy (max): after 2 iterations a trial stops when its best result is below the median of the "
                        + "others' running averages at the same iteration (needs 3 other trials)");
        assertThat(new MedianStoppingRule(LOSS, 5, 1).describePlan(10)).isEqualTo(
                "Median stopping on loss (min): after 5 iterations a trial stops when its best result is below the median of the "
                        + "others' running averages at the same iteration (needs 1 other trials)");
    }
}
