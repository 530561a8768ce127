package dev.canopy.tune;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.tune.TrialResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Exact SVG elements: plot area 630x420 at (70, 40); y ticks from the finite metric range; x ticks per iteration. */
class TrialPlotSvgTest {
    static final Objective ACC = new Objective("val_accuracy", true);
    private static final Pattern X_LABEL = Pattern.compile("y=\"478\" text-anchor=\"middle\">(\\d+)</text>");

    private static Trial trial(String id, Trial.Status status, int segments, TrialResult... results) {
        Trial t = new Trial(id, 0, Map.of());
        t.setStatus(status);
        t.setSegmentsRun(segments);
        t.getResults().addAll(List.of(results));
        return t;
    }

    private static TrialResult acc(String id, int iteration, double v) {
        return new TrialResult(id, iteration, Map.of("val_accuracy", v));
    }

    private static int count(String s, String part) {
        return s.split(Pattern.quote(part), -1).length - 1;
    }

    private static List<Integer> xLabels(String svg) {
        List<Integer> out = new ArrayList<>();
        Matcher m = X_LABEL.matcher(svg);
        while (m.find()) out.add(Integer.parseInt(m.group(1)));
        return out;
    }

    private static String yTick(String y, String textY, String label) {
        return "<line x1=\"70\" y1=\"" + y + "\" x2=\"700\" y2=\"" + y + "\" stroke=\"#ddd\"/><text x=\"64\" y=\"" + textY
                + "\" text-anchor=\"end\">" + label + "</text>";
    }

    @Test
    void drawsOneLinePerTrialColouredByOutcomeWithEndMarkersLegendAndCost() {
        Trial a = trial("a", Trial.Status.COMPLETED, 8, acc("a", 1, 0.25), acc("a", 2, 0.5), acc("a", 3, 0.75));
        Trial b = trial("b", Trial.Status.STOPPED, 1, acc("b", 1, 0.375));
        Trial c = trial("c", Trial.Status.ERROR, 4, acc("c", 1, 0.5), new TrialResult("c", 2, Map.of("loss", 0.1)),
                acc("c", 3, Double.NaN), acc("c", 4, 0.625));
        Trial d = trial("d", Trial.Status.COMPLETED, 3, acc("d", 1, 0.25), acc("d", 2, 0.375));
        String svg = TrialPlot.svg(List.of(a, b, c, d), ACC, 8, "a<b & c");

        assertThat(svg).startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"520\"").endsWith("</svg>\n");
        assertThat(svg).contains("<text x=\"70\" y=\"24\" font-size=\"16\">a&lt;b &amp; c</text>",
                "<rect x=\"70\" y=\"40\" width=\"630\" height=\"420\" fill=\"none\" stroke=\"#444\"/>");
        // y axis: six ticks over the finite values 0.25..0.75 (the NaN and the missing metric are skipped)
        assertThat(count(svg, "stroke=\"#ddd\"")).isEqualTo(6);
        assertThat(svg).contains(yTick("460.0", "464.0", "0.250"), yTick("376.0", "380.0", "0.350"), yTick("292.0", "296.0", "0.450"),
                yTick("208.0", "212.0", "0.550"), yTick("124.0", "128.0", "0.650"), yTick("40.0", "44.0", "0.750"));
        // x axis: every iteration 1..8, 90 px apart
        assertThat(xLabels(svg)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(svg).contains("<text x=\"70.0\" y=\"478\" text-anchor=\"middle\">1</text>",
                "<text x=\"160.0\" y=\"478\" text-anchor=\"middle\">2</text>",
                "<text x=\"700.0\" y=\"478\" text-anchor=\"middle\">8</text>",
                "<text x=\"385\" y=\"506\" text-anchor=\"middle\">training iteration (epoch)</text>",
                "<text x=\"16\" y=\"250\" transform=\"rotate(-90 16 250)\" text-anchor=\"middle\">val_accuracy</text>");
        // one polyline per trial: best thick green, stopped red, failed grey, completed blue
        assertThat(count(svg, "<polyline")).isEqualTo(4);
        assertThat(svg).contains(
                "<polyline fill=\"none\" stroke=\"#1a9641\" stroke-width=\"3\" stroke-opacity=\"1\" points=\"70.0,460.0 160.0,250.0 250.0,40.0\"><title>a COMPLETED</title></polyline>",
                "<polyline fill=\"none\" stroke=\"#d7191c\" stroke-width=\"1.2\" stroke-opacity=\"0.7\" points=\"70.0,355.0\"><title>b STOPPED</title></polyline>",
                "<polyline fill=\"none\" stroke=\"#888\" stroke-width=\"1.2\" stroke-opacity=\"0.7\" points=\"70.0,250.0 340.0,145.0\"><title>c ERROR</title></polyline>",
                "<polyline fill=\"none\" stroke=\"#2b83ba\" stroke-width=\"1.2\" stroke-opacity=\"0.7\" points=\"70.0,460.0 160.0,355.0\"><title>d COMPLETED</title></polyline>");
        // one end marker per trial, at its last finite point (b, stopped after one result, is only this mark)
        assertThat(count(svg, "<circle")).isEqualTo(4);
        assertThat(svg).contains(
                "<circle cx=\"250.0\" cy=\"40.0\" r=\"4\" fill=\"#1a9641\" fill-opacity=\"0.8\"/>",
                "<circle cx=\"70.0\" cy=\"355.0\" r=\"2.5\" fill=\"#d7191c\" fill-opacity=\"0.8\"/>",
                "<circle cx=\"340.0\" cy=\"145.0\" r=\"2.5\" fill=\"#888\" fill-opacity=\"0.8\"/>",
                "<circle cx=\"160.0\" cy=\"355.0\" r=\"2.5\" fill=\"#2b83ba\" fill-opacity=\"0.8\"/>");
        // legend rows 20 px apart, then the cost summary (16 of 4 * 8 trial-epochs)
        assertThat(svg).contains(
                "<line x1=\"715\" y1=\"50\" x2=\"740\" y2=\"50\" stroke=\"#1a9641\" stroke-width=\"3\"/><text x=\"746\" y=\"54\">best trial (a)</text>",
                "<line x1=\"715\" y1=\"70\" x2=\"740\" y2=\"70\" stroke=\"#2b83ba\" stroke-width=\"3\"/><text x=\"746\" y=\"74\">ran to max_t</text>",
                "<line x1=\"715\" y1=\"90\" x2=\"740\" y2=\"90\" stroke=\"#d7191c\" stroke-width=\"3\"/><text x=\"746\" y=\"94\">stopped early</text>",
                "<line x1=\"715\" y1=\"110\" x2=\"740\" y2=\"110\" stroke=\"#888\" stroke-width=\"3\"/><text x=\"746\" y=\"114\">failed</text>",
                "<text x=\"715\" y=\"150\">4 trials</text>",
                "<text x=\"715\" y=\"170\">16 of 32 trial-epochs</text>",
                "<text x=\"715\" y=\"190\">50% compute saved</text>");
    }

    @Test
    void aFlatMetricIsCentredInARangeOfOne() {
        Trial k = trial("k", Trial.Status.COMPLETED, 2, acc("k", 1, 2.0), acc("k", 2, 2.0));
        String svg = TrialPlot.svg(List.of(k), ACC, 2, "flat");
        assertThat(svg).contains(yTick("460.0", "464.0", "1.500"), yTick("40.0", "44.0", "2.500"),
                "points=\"70.0,250.0 700.0,250.0\"",
                "<text x=\"715\" y=\"170\">2 of 2 trial-epochs</text>",
                "<text x=\"715\" y=\"190\">0% compute saved</text>");
    }

    @Test
    void aSpreadOfExactlyOneBillionthIsDrawnUnpadded() {
        Trial k = trial("k", Trial.Status.COMPLETED, 2, acc("k", 1, 0.0), acc("k", 2, 1e-9));
        String svg = TrialPlot.svg(List.of(k), ACC, 2, "tiny");
        assertThat(svg).contains(yTick("460.0", "464.0", "0.000"), yTick("40.0", "44.0", "0.000"), "points=\"70.0,460.0 700.0,40.0\"");
    }

    @Test
    void withoutTrialsTheUnitRangeIsDrawnAndLongRunsLabelEveryTenth() {
        String svg = TrialPlot.svg(List.of(), ACC, 30, "empty");
        assertThat(xLabels(svg)).containsExactly(3, 6, 9, 12, 15, 18, 21, 24, 27, 30);
        assertThat(svg).contains(yTick("460.0", "464.0", "0.000"), yTick("40.0", "44.0", "1.000"),
                "<text x=\"700.0\" y=\"478\" text-anchor=\"middle\">30</text>",
                "best trial ()", "<text x=\"715\" y=\"150\">0 trials</text>", "<text x=\"715\" y=\"170\">0 of 0 trial-epochs</text>");
        assertThat(svg).doesNotContain("<polyline", "<circle");
    }

    @Test
    void upToTwentyIterationsEveryOneIsLabelled() {
        assertThat(xLabels(TrialPlot.svg(List.of(), ACC, 20, "t"))).containsExactlyElementsOf(IntStream.rangeClosed(1, 20).boxed().toList());
        assertThat(xLabels(TrialPlot.svg(List.of(), ACC, 21, "t"))).containsExactly(2, 4, 6, 8, 10, 12, 14, 16, 18, 20);
    }
}
