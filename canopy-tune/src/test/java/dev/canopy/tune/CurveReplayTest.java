package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Replays of synthetic curves through the real runner: costs and outcomes that follow from the algorithms. */
class CurveReplayTest {
    static final Objective VAL = new Objective("val", true);
    static final int MAX_T = 27;

    /** 27 configurations whose curves never cross: quality q rises towards q with the same shape. */
    static List<CurveReplay.Curve> curves() {
        List<CurveReplay.Curve> out = new ArrayList<>();
        for (int i = 0; i < 27; i++) {
            double q = 0.5 + 0.4 * ((i * 7) % 27) / 26.0; // a shuffled order of qualities
            double[] v = new double[MAX_T];
            for (int t = 0; t < MAX_T; t++) v[t] = q * (1 - Math.exp(-(t + 1) / 4.0));
            out.add(new CurveReplay.Curve(Map.of("x", (double) i), v));
        }
        return out;
    }

    static List<Map<String, Object>> configs(List<CurveReplay.Curve> curves) {
        return curves.stream().map(CurveReplay.Curve::config).toList();
    }

    @Test
    void fifoSpendsEveryEpochAndAshaFindsTheSameBestForLess() {
        List<CurveReplay.Curve> curves = curves();
        double truth = curves.stream().mapToDouble(c -> c.values()[MAX_T - 1]).max().orElseThrow();
        CurveReplay.Run fifo = CurveReplay.run(curves, CurveReplay.inOrder(configs(curves)), new FifoScheduler(MAX_T), 27, 4, MAX_T, VAL);
        assertThat(fifo.trialEpochs()).isEqualTo(27L * MAX_T);
        assertThat(fifo.trials()).isEqualTo(27);
        assertThat(fifo.best()).isEqualTo(truth);
        assertThat(fifo.bestSoFar()).hasSize(27 * MAX_T);
        for (int i = 1; i < fifo.bestSoFar().length; i++) assertThat(fifo.bestSoFar()[i]).isGreaterThanOrEqualTo(fifo.bestSoFar()[i - 1]);

        CurveReplay.Run asha = CurveReplay.run(curves, CurveReplay.inOrder(configs(curves)), new AshaScheduler(VAL, MAX_T, 1, 3), 27, 4, MAX_T, VAL);
        assertThat(asha.trialEpochs()).isLessThan(fifo.trialEpochs() / 2);
        assertThat(asha.best()).as("curves never cross: the best configuration survives every rung").isEqualTo(truth);
        assertThat(asha.bestAt(asha.trialEpochs())).isEqualTo(asha.best());
        assertThat(asha.bestAt(1)).isEqualTo(curves.get(0).values()[0]);

        // the same replay twice decides the same things
        CurveReplay.Run again = CurveReplay.run(curves, CurveReplay.inOrder(configs(curves)), new AshaScheduler(VAL, MAX_T, 1, 3), 27, 4, MAX_T, VAL);
        assertThat(again.bestSoFar()).containsExactly(asha.bestSoFar());
    }

    @Test
    void aDivergedEpochIsNeverTheBest() {
        List<CurveReplay.Curve> curves = new ArrayList<>(curves());
        double[] nan = new double[MAX_T];
        java.util.Arrays.fill(nan, Double.NaN);
        curves.set(0, new CurveReplay.Curve(curves.get(0).config(), nan)); // trial 0 diverges from its first epoch
        CurveReplay.Run fifo = CurveReplay.run(curves, CurveReplay.inOrder(configs(curves)), new FifoScheduler(MAX_T), 27, 4, MAX_T, VAL);
        assertThat(fifo.bestAt(1)).isNaN(); // nothing finite seen yet
        assertThat(fifo.best()).isEqualTo(curves.stream().skip(1).mapToDouble(c -> c.values()[MAX_T - 1]).max().orElseThrow());
        for (double v : fifo.bestSoFar()) assertThat(Double.isNaN(v) || v > 0).isTrue();
    }

    @Test
    void hyperBandWithBohbProposesEachPoolConfigurationAtMostOnce() {
        List<CurveReplay.Curve> curves = curves();
        SearchSpace space = SearchSpace.parse("x: {uniform: [0, 26]}");
        CurveReplay.Run bohb = CurveReplay.run(curves, BohbSearcher.overPool(space, 1, "val", true, configs(curves)),
                new HyperBandScheduler(VAL, MAX_T, 3, 1, 20), 20, 4, MAX_T, VAL);
        assertThat(bohb.trials()).isEqualTo(20);
        assertThat(new java.util.HashSet<>(bohb.configs())).as("no configuration proposed twice").hasSize(20);
        assertThat(configs(curves)).containsAll(bohb.configs());
        assertThat(bohb.trialEpochs()).isLessThan(20L * MAX_T);
    }
}
