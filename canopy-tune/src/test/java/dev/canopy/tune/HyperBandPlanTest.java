package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * describePlan line by line. A bracket s runs min(left, n_s) trials, n_s = ceil((s_max + 1) / (s + 1) * eta^s), at
 * r_i = max_t * eta^(i - s) iterations for rungs i = 0..s, keeping max(1, floor(n / eta)) from one rung to the next;
 * brackets cycle s_max, s_max - 1, ..., 0, s_max, ... until the samples are placed.
 */
class HyperBandPlanTest {
    static final Objective ACC = new Objective("val_accuracy", true);
    static final Objective LOSS = new Objective("val_loss", false);

    @Test
    void twentySamplesFillThreeBracketsAndStartTheCycleAgain() {
        // max_t 9, eta 3, grace 1: s_max = 2; n_2 = 9, n_1 = ceil(3/2 * 3) = 5, n_0 = 3; the 4th bracket gets the 3 left.
        // trial-iterations: 9*1 + 3*2 + 1*6 = 21; 5*3 + 1*6 = 21; 3*9 = 27; 3*1 + 1*2 + 1*6 = 11; total 80 of 20*9 = 180
        String plan = new HyperBandScheduler(ACC, 9, 3, 1, 20).describePlan(20);
        assertThat(plan.lines().toList()).containsExactly(
                "HyperBand (synchronous) on val_accuracy (max): max_t=9, reduction_factor=3.0, 3 brackets",
                "bracket  rung       trials     iterations",
                "0        0               9              1",
                "0        1               3              3",
                "0        2               1              9",
                "1        0               5              3",
                "1        1               1              9",
                "2        0               3              9",
                "3        0               3              1",
                "3        1               1              3",
                "3        2               1              9",
                "expected trial-iterations ~80 of 180 without early stopping (56% saved)");
    }

    @Test
    void fewerSamplesThanTheFirstBracketInMinMode() {
        // max_t 27, grace 3, eta 3: s_max = floor(log_3(27/3)) = 2, rungs at 3, 9, 27; 4 trials: 4*3 + 1*6 + 1*18 = 36 of 108
        String plan = new HyperBandScheduler(LOSS, 27, 3, 3, 4).describePlan(4);
        assertThat(plan.lines().toList()).containsExactly(
                "HyperBand (synchronous) on val_loss (min): max_t=27, reduction_factor=3.0, 3 brackets",
                "bracket  rung       trials     iterations",
                "0        0               4              3",
                "0        1               1              9",
                "0        2               1             27",
                "expected trial-iterations ~36 of 108 without early stopping (67% saved)");
    }

    @Test
    void halvingFromOneToSixteen() {
        // eta 2, max_t 16, grace 1: s_max = 4 (5 brackets), n_4 = ceil(5/5 * 16) = 16; 5 trials: 5*1 + 2*1 + 1*2 + 1*4 + 1*8 = 21 of 80
        String plan = new HyperBandScheduler(ACC, 16, 2, 1, 5).describePlan(5);
        assertThat(plan.lines().toList()).containsExactly(
                "HyperBand (synchronous) on val_accuracy (max): max_t=16, reduction_factor=2.0, 5 brackets",
                "bracket  rung       trials     iterations",
                "0        0               5              1",
                "0        1               2              2",
                "0        2               1              4",
                "0        3               1              8",
                "0        4               1             16",
                "expected trial-iterations ~21 of 80 without early stopping (74% saved)");
    }

    @Test
    void gracePeriodEqualToMaxTSavesNothing() {
        // s_max = 0: one bracket of one trial at max_t per sample
        String plan = new HyperBandScheduler(ACC, 9, 3, 9, 4).describePlan(4);
        assertThat(plan.lines().toList()).containsExactly(
                "HyperBand (synchronous) on val_accuracy (max): max_t=9, reduction_factor=3.0, 1 brackets",
                "bracket  rung       trials     iterations",
                "0        0               1              9",
                "1        0               1              9",
                "2        0               1              9",
                "3        0               1              9",
                "expected trial-iterations ~36 of 36 without early stopping (0% saved)");
    }

    @Test
    void maxTOfOne() {
        String plan = new HyperBandScheduler(ACC, 1, 3, 1, 1).describePlan(1);
        assertThat(plan.lines().toList()).containsExactly(
                "HyperBand (synchronous) on val_accuracy (max): max_t=1, reduction_factor=3.0, 1 brackets",
                "bracket  rung       trials     iterations",
                "0        0               1              1",
                "expected trial-iterations ~1 of 1 without early stopping (0% saved)");
    }
}
