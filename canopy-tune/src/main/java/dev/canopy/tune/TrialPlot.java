package dev.canopy.tune;

import dev.canopy.api.tune.TrialResult;
import java.util.List;
import java.util.Locale;

/**
 * An SVG of every trial's metric against training iterations. Trials stopped early end early and
 * are drawn in red; completed ones in blue; the best trial in thick green.
 */
public final class TrialPlot {
    static final int W = 900, H = 520, L = 70, R = 200, T = 40, B = 60;

    private TrialPlot() { }

    public static String svg(List<Trial> trials, Objective objective, int maxT, String title) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Trial t : trials) {
            for (TrialResult r : t.getResults()) {
                Double v = r.metrics().get(objective.metric());
                if (v == null || v.isNaN()) continue;
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (lo > hi) {
            lo = 0;
            hi = 1;
        }
        if (hi - lo < 1e-9) {
            hi += 0.5;
            lo -= 0.5;
        }
        String best = Experiment.best(trials, objective).map(Trial::id).orElse("");
        StringBuilder s = new StringBuilder();
        int pw = W - L - R, ph = H - T - B;
        frame(s, W, H, L, T, pw, ph, title, lo, hi);
        for (int i = 1; i <= maxT; i++) {
            if (maxT > 20 && i % Math.max(1, maxT / 10) != 0) continue;
            double x = L + pw * (i - 1) / (double) Math.max(1, maxT - 1);
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>%n", x, T + ph + 18, i));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">training iteration (epoch)</text>%n", L + pw / 2, H - 14));
        s.append(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">%s</text>%n",
                T + ph / 2, T + ph / 2, esc(objective.metric())));
        for (Trial t : trials) {
            StringBuilder pts = new StringBuilder();
            double lastX = Double.NaN, lastY = Double.NaN;
            for (TrialResult r : t.getResults()) {
                Double v = r.metrics().get(objective.metric());
                if (v == null || v.isNaN()) continue;
                lastX = L + pw * (r.iteration() - 1) / (double) Math.max(1, maxT - 1);
                lastY = T + ph - ph * (v - lo) / (hi - lo);
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", lastX, lastY));
            }
            boolean isBest = t.id().equals(best);
            String color = isBest ? "#1a9641" : t.getStatus() == Trial.Status.STOPPED ? "#d7191c" : t.getStatus() == Trial.Status.ERROR ? "#888" : "#2b83ba";
            s.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-opacity=\"%s\" points=\"%s\"><title>%s %s</title></polyline>%n",
                    color, isBest ? "3" : "1.2", isBest ? "1" : "0.7", pts.toString().trim(), esc(t.id()), t.getStatus()));
            // where each trial ended: trials stopped after one result are only this mark
            if (!Double.isNaN(lastX)) {
                s.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" fill-opacity=\"0.8\"/>%n", lastX, lastY,
                        isBest ? "4" : "2.5", color));
            }
        }
        int ly = T + 10;
        for (String[] item : new String[][] {{"#1a9641", "best trial (" + best + ")"}, {"#2b83ba", "ran to max_t"}, {"#d7191c", "stopped early"}, {"#888", "failed"}}) {
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>", W - R + 15, ly, W - R + 40, ly, item[0]));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", W - R + 46, ly + 4, esc(item[1])));
            ly += 20;
        }
        Experiment.Cost c = Experiment.cost(trials, maxT);
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%d trials</text>%n", W - R + 15, ly + 20, trials.size()));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%d of %d trial-epochs</text>%n", W - R + 15, ly + 40, c.used(), c.full()));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%.0f%% compute saved</text>%n", W - R + 15, ly + 60, c.savedPercent()));
        return s.append("</svg>\n").toString();
    }

    /** The SVG's opening, title, plot frame and y axis (six grid lines labelled from {@code lo} to {@code hi}); shared by the plots. */
    static void frame(StringBuilder s, int w, int h, int l, int t, int pw, int ph, String title, double lo, double hi) {
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">%n", w, h));
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"24\" font-size=\"16\">%s</text>%n", l, esc(title)));
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>%n", l, t, pw, ph));
        for (int i = 0; i <= 5; i++) {
            double v = lo + (hi - lo) * i / 5;
            double y = t + ph - ph * i / 5.0;
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", l, y, l + pw, y));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3f</text>%n", l - 6, y + 4, v));
        }
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
