package dev.canopy.tune;

import static dev.canopy.api.tune.Decision.CONTINUE;
import static dev.canopy.api.tune.Decision.STOP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.tune.Decision;
import dev.canopy.api.tune.TrialResult;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * ASHA decisions and dry-run plan on hand-computed examples. Ties and near-ties use dyadic fractions
 * so those cutoffs (numpy-style linear-interpolated percentile at 1 - 1/reduction_factor) are exact.
 */
class AshaWorkedExampleTest {
    static final Objective ACC = new Objective("val_accuracy", true);
    static final Objective LOSS = new Objective("loss", false);

    private static Decision report(AshaScheduler asha, String id, int iteration, String metric, double value) {
        return asha.onTrialResult(new Trial(id, 0, Map.of()), new TrialResult(id, iteration, Map.of(metric, value)));
    }

    private static Decision acc(AshaScheduler asha, String id, int iteration, double value) {
        return report(asha, id, iteration, "val_accuracy", value);
    }

    private static Decision loss(AshaScheduler asha, String id, int iteration, double value) {
        return report(asha, id, iteration, "loss", value);
    }

    @Test
    void cutoffIsTheInterpolatedPercentileOfTheRungAndTiesSurvive() {
        // reduction_factor 2: keep the top half, cutoff = 50th percentile; rungs at 1, 2, 4 below max_t 8
        AshaScheduler asha = new AshaScheduler(ACC, 8, 1, 2);
        assertThat(asha.rungs()).containsExactly(1, 2, 4);
        assertThat(acc(asha, "a", 1, 0.25)).isEqualTo(CONTINUE);   // empty rung: no cutoff
        assertThat(acc(asha, "b", 1, 0.75)).isEqualTo(CONTINUE);   // cutoff of [0.25] = 0.25
        assertThat(acc(asha, "c", 1, 0.375)).isEqualTo(STOP);      // cutoff of [0.25, 0.75] = 0.25 + 0.5 * 0.5 = 0.5
        assertThat(acc(asha, "d", 1, 0.375)).isEqualTo(CONTINUE);  // cutoff of [0.25, 0.375, 0.75] = 0.375: a tie is kept
        assertThat(acc(asha, "e", 1, 0.25)).isEqualTo(STOP);       // cutoff of [0.25, 0.375, 0.375, 0.75] = 0.375
        // rung 2
        assertThat(acc(asha, "b", 2, 0.75)).isEqualTo(CONTINUE);   // first at the rung
        assertThat(acc(asha, "d", 2, 0.5)).isEqualTo(STOP);        // cutoff of [0.75] = 0.75
        // a skipped iteration 2 and reports at 3: judged at rung 2, cutoff of [0.5, 0.75] = 0.625, a tie
        assertThat(acc(asha, "a", 3, 0.625)).isEqualTo(CONTINUE);
        // a trial already judged at its highest rung is not judged again
        assertThat(acc(asha, "a", 3, 0.0)).isEqualTo(CONTINUE);
    }

    @Test
    void twoEqualScoresAtARungBothContinue() {
        AshaScheduler asha = new AshaScheduler(ACC, 9, 1, 3);
        assertThat(acc(asha, "a", 1, 0.5)).isEqualTo(CONTINUE);
        assertThat(acc(asha, "b", 1, 0.5)).isEqualTo(CONTINUE);   // score == cutoff is not below it
        assertThat(acc(asha, "c", 1, 0.25)).isEqualTo(STOP);
    }

    @Test
    void minModeNegatesTheLossAndTheFirstArrivalAtARungAlwaysContinues() {
        // scores are -loss, all negative: an empty rung must not behave like a cutoff of 0
        AshaScheduler asha = new AshaScheduler(LOSS, 9, 1, 3);
        assertThat(asha.rungs()).containsExactly(1, 3);
        assertThat(loss(asha, "a", 1, 0.25)).isEqualTo(CONTINUE);  // first at rung 1
        assertThat(loss(asha, "b", 1, 0.5)).isEqualTo(STOP);       // -0.5 < cutoff -0.25
        assertThat(loss(asha, "c", 1, 0.125)).isEqualTo(CONTINUE); // -0.125 >= -0.5 + 0.25 * 2/3
        assertThat(loss(asha, "a", 3, 0.2)).isEqualTo(CONTINUE);   // first at rung 3
        assertThat(loss(asha, "c", 3, 0.1)).isEqualTo(CONTINUE);   // lower loss than a
        assertThat(loss(asha, "d", 3, 0.3)).isEqualTo(STOP);       // -0.3 < cutoff of [-0.2, -0.1] = -0.2 + 0.1 * 2/3
    }

    @Test
    void aDivergedTrialStopsAndSetsNoBarForTheOthers() {
        AshaScheduler asha = new AshaScheduler(ACC, 9, 1, 3);
        assertThat(acc(asha, "a", 1, 0.9)).isEqualTo(CONTINUE);
        assertThat(acc(asha, "nan", 1, Double.NaN)).isEqualTo(STOP); // worst possible score, below the cutoff 0.9
        assertThat(acc(asha, "c", 1, 0.1)).isEqualTo(STOP);          // the cutoff is 0.9, as if the NaN were not there
        AshaScheduler first = new AshaScheduler(ACC, 9, 1, 3);
        assertThat(acc(first, "nan", 1, Double.NaN)).isEqualTo(CONTINUE); // alone at its rung: nothing to compare with
        assertThat(acc(first, "b", 1, 0.2)).isEqualTo(CONTINUE);          // the NaN is no cutoff
    }

    @Test
    void aFactorBelowTwoNeverMakesTwoRungsOfOneIteration() {
        assertThat(new AshaScheduler(ACC, 10, 1, 1.5).rungs()).containsExactly(1, 2, 3, 5, 8);
    }

    @Test
    void constructorAcceptsTheBoundariesAndRejectsJustBeyondThem() {
        AshaScheduler single = new AshaScheduler(ACC, 1, 1, 3);
        assertThat(single.rungs()).isEmpty();
        assertThat(acc(single, "a", 1, 0.0)).isEqualTo(CONTINUE);
        AshaScheduler graceIsMaxT = new AshaScheduler(ACC, 5, 5, 3);
        assertThat(graceIsMaxT.rungs()).isEmpty();
        assertThat(new AshaScheduler(ACC, 100, 1, 2.5).rungs()).containsExactly(1, 3, 6, 16, 39, 98); // 2.5 rounds up
        assertThat(new AshaScheduler(ACC, 100, 2, 3).rungs()).containsExactly(2, 6, 18, 54);
        assertThatThrownBy(() -> new AshaScheduler(ACC, 0, 1, 3)).isInstanceOf(TuneException.class)
                .hasMessageContaining("max_t must be >= 1, got 0");
        assertThatThrownBy(() -> new AshaScheduler(ACC, 5, 6, 3)).isInstanceOf(TuneException.class)
                .hasMessageContaining("grace_period must be in 1..max_t (5), got 6");
        assertThatThrownBy(() -> new AshaScheduler(ACC, 5, 0, 3)).isInstanceOf(TuneException.class)
                .hasMessageContaining("grace_period");
        assertThatThrownBy(() -> new AshaScheduler(ACC, 9, 1, Double.NaN)).isInstanceOf(TuneException.class)
                .hasMessageContaining("reduction_factor");
    }

    @Test
    void planForNineTrialsEta3MaxT27() {
        // survivors 9, 3, 1, 1/3; trial-iterations 9*1 + 3*(3-1) + 1*(9-3) + round(1/3*(27-9)) = 9 + 6 + 6 + 6 = 27 of 243
        assertThat(new AshaScheduler(ACC, 27, 1, 3).describePlan(9).lines().toList()).containsExactly(
                "ASHA on val_accuracy (max): max_t=27, grace_period=1, reduction_factor=3.0",
                "rung        iteration    trials reaching",
                "0                   1                  9",
                "1                   3                  3",
                "2                   9                  1",
                "final              27                  1",
                "expected trial-iterations ~27 of 243 without early stopping (89% saved)");
    }

    @Test
    void planRoundsTrialsReachingUp() {
        // survivors 10, 3.33, 1.11, 0.37; iterations 10 + round(6.67) + round(6.67) + round(6.67) = 31 of 270
        assertThat(new AshaScheduler(ACC, 27, 1, 3).describePlan(10).lines().toList()).containsExactly(
                "ASHA on val_accuracy (max): max_t=27, grace_period=1, reduction_factor=3.0",
                "rung        iteration    trials reaching",
                "0                   1                 10",
                "1                   3                  4",
                "2                   9                  2",
                "final              27                  1",
                "expected trial-iterations ~31 of 270 without early stopping (89% saved)");
    }

    @Test
    void planWithoutRungsSavesNothingAndNamesMinMode() {
        assertThat(new AshaScheduler(LOSS, 4, 4, 2).describePlan(5).lines().toList()).containsExactly(
                "ASHA on loss (min): max_t=4, grace_period=4, reduction_factor=2.0",
                "rung        iteration    trials reaching",
                "final               4                  5",
                "expected trial-iterations ~20 of 20 without early stopping (0% saved)");
    }

    @Test
    void planWithNonIntegerReductionFactor() {
        // survivors 20, 8, 3.2, 1.28, 0.512, 0.2048, 0.08192
        // iterations 20*1 + 8*2 + 3.2*3 + 1.28*10 + 0.512*23 + 0.2048*59 + 0.08192*2 -> 20+16+10+13+12+12+0 = 83 of 2000
        assertThat(new AshaScheduler(ACC, 100, 1, 2.5).describePlan(20).lines().toList()).containsExactly(
                "ASHA on val_accuracy (max): max_t=100, grace_period=1, reduction_factor=2.5",
                "rung        iteration    trials reaching",
                "0                   1                 20",
                "1                   3                  8",
                "2                   6                  4",
                "3                  16                  2",
                "4                  39                  1",
                "5                  98                  1",
                "final             100                  1",
                "expected trial-iterations ~83 of 2000 without early stopping (96% saved)");
    }
}
