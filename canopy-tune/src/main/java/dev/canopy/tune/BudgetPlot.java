package dev.canopy.tune;

import java.util.Locale;
import java.util.Map;

/** An SVG of the best metric seen against trial-epochs spent, one step line per method. */
public final class BudgetPlot {
    static final int W = 900, H = 520, L = 70, R = 210, T = 40, B = 60;
    static final String[] COLORS = {"#444444", "#2b83ba", "#fdae61", "#1a9641", "#d7191c", "#7b3294"};

    private BudgetPlot() { }

    /**
     * {@code curves}: per method, the best value seen after 1, 2, ... trial-epochs (NaN where a run had not started); the x axis
     * ends at {@code maxEpochs} (longer curves are cut there).
     */
    public static String svg(Map<String, double[]> curves, String metric, String title, int maxEpochs) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        int maxX = Math.max(1, maxEpochs);
        for (double[] c : curves.values()) {
            for (int i = 0; i < Math.min(c.length, maxX); i++) {
                double v = c[i];
                if (Double.isNaN(v)) continue;
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (lo > hi) {
            lo = 0;
            hi = 1;
        }
        if (hi - lo < 1e-9) hi = lo + 1;
        int pw = W - L - R, ph = H - T - B;
        StringBuilder s = new StringBuilder();
        TrialPlot.frame(s, W, H, L, T, pw, ph, title, lo, hi);
        for (int i = 0; i <= 5; i++) {
            int xv = (int) Math.round(maxX * i / 5.0);
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>%n", L + pw * i / 5.0, T + ph + 18, xv));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">trial-epochs spent</text>%n", L + pw / 2, H - 14));
        s.append(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">best %s seen</text>%n",
                T + ph / 2, T + ph / 2, TrialPlot.esc(metric)));
        int k = 0, ly = T + 10;
        for (Map.Entry<String, double[]> e : curves.entrySet()) {
            String color = COLORS[k++ % COLORS.length];
            StringBuilder pts = new StringBuilder();
            double[] c = e.getValue();
            int step = Math.max(1, Math.min(c.length, maxX) / 600); // at most ~600 points per line
            for (int i = 0; i < Math.min(c.length, maxX); i += step) {
                if (Double.isNaN(c[i])) continue;
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", L + pw * (i + 1) / (double) maxX, T + ph - ph * (c[i] - lo) / (hi - lo)));
            }
            s.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"><title>%s</title></polyline>%n",
                    color, pts.toString().trim(), TrialPlot.esc(e.getKey())));
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>", W - R + 15, ly, W - R + 40, ly, color));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", W - R + 46, ly + 4, TrialPlot.esc(e.getKey())));
            ly += 20;
        }
        return s.append("</svg>\n").toString();
    }
}
