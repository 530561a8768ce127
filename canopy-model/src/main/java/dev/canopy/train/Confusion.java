package dev.canopy.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A confusion matrix and the metrics users read from it: accuracy and per-class F1. */
public final class Confusion {
    private final long[][] counts;

    public Confusion(int classes) {
        counts = new long[classes][classes];
    }

    /** The counts, rows the true class and columns the predicted one (a copy). */
    public long[][] matrix() {
        long[][] m = new long[counts.length][];
        for (int i = 0; i < counts.length; i++) m[i] = counts[i].clone();
        return m;
    }

    public void add(long truth, int predicted) {
        counts[(int) truth][predicted]++;
    }

    long total() {
        long t = 0;
        for (long[] row : counts) for (long c : row) t += c;
        return t;
    }

    double accuracy() {
        long right = 0;
        for (int i = 0; i < counts.length; i++) right += counts[i][i];
        long t = total();
        return t == 0 ? 0 : right / (double) t;
    }

    double f1(int c) {
        long tp = counts[c][c], fp = 0, fn = 0;
        for (int i = 0; i < counts.length; i++) {
            if (i != c) {
                fp += counts[i][c];
                fn += counts[c][i];
            }
        }
        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    /** {@code prefix_accuracy}, {@code prefix_f1_CLASS} and {@code prefix_macro_f1}. */
    public Map<String, Double> metrics(String prefix, List<String> classes) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(prefix + "_accuracy", accuracy());
        double sum = 0;
        for (int c = 0; c < counts.length; c++) {
            double f = f1(c);
            m.put(prefix + "_f1_" + classes.get(c), f);
            sum += f;
        }
        m.put(prefix + "_macro_f1", sum / counts.length);
        return m;
    }
}
