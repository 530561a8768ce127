package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import dev.canopy.imagery.Area;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.imagery.TileSource;
import dev.canopy.model.ModelRegistry;
import dev.canopy.model.TileClassifier;
import dev.canopy.storage.FileObjectStore;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.ObjectStores;
import dev.canopy.storage.S3Settings;
import dev.canopy.train.Confusion;
import dev.canopy.train.SpatialSplit;
import dev.canopy.train.TrainConfig;
import dev.canopy.train.TrainingRun;
import dev.canopy.tune.TuneSettings;
import dev.canopy.tune.Tuning;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.io.WKBReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * The driver of a control-plane retrain job (started by {@code canopy server}, not by people; hidden from help).
 * Reads the label snapshot the server exported to {@code retrain.json} and records each stage:
 * <ol>
 *   <li><b>features</b>: labels become tiles (a tile id, or the tiles whose footprint is at least half inside a
 *       label geometry; the latest label of a tile wins), the class set comes from the labels, and the tiles are
 *       split by spatial blocks ({@link SpatialSplit}) into train, validation and test manifests;</li>
 *   <li><b>selection</b>: Canopy's tuner (ASHA) over the search space within the budget, validated on the
 *       validation blocks; then the best configuration is trained for the full budget;</li>
 *   <li><b>validation</b>: macro F1 of the candidate and of the current production model on the same test tiles;</li>
 *   <li><b>registration</b>: the candidate becomes a new version; the decision (promote, reject, or pending when
 *       there is no production model) goes to {@code output/retrain-result.json} for the server to apply.</li>
 * </ol>
 */
@Command(name = "retrain-run", hidden = true, mixinStandardHelpOptions = true, description = "Run a control-plane retrain job's stages (started by canopy server).")
final class RetrainRunCommand implements Callable<Integer> {
    @ParentCommand
    Main main;
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;
    @Option(names = "--folder", required = true, description = "The job folder holding retrain.json")
    Path folder;
    @Option(names = "--master", description = "Spark master: tuning trials run as Spark jobs there (default: in this process)")
    String master;

    private final List<Map<String, Object>> stages = new ArrayList<>();
    private Path out;

    @Override
    public Integer call() throws Exception {
        PrintWriter log = spec.commandLine().getOut();
        JsonNode req = Json.MAPPER.readTree(Files.readAllBytes(folder.resolve("retrain.json")));
        out = Files.createDirectories(folder.resolve("output"));
        stage("export", Map.of("labels", req.get("label_rows").size(), "exported_at", req.path("exported_at").asText()), 0);

        long t0 = System.nanoTime();
        progress("features");
        Features f = features(req, log);
        stage("features", f.summary(), t0);

        t0 = System.nanoTime();
        progress("selection");
        String name = req.get("model").asText();
        long seed = req.get("seed").asLong();
        int trials = req.get("budget").get("trials").asInt(), epochs = req.get("budget").get("epochs").asInt();
        int workers = req.path("workers").asInt(1); // data-parallel ranks of every trial and of the final training
        TuneSettings ts = TuneSettings.defaults(f.train.toString(), req.get("search_space").asText()).withSamples(trials).withMaxT(epochs)
                .withSeed(seed).withMaxFailures(1).withNoRegister(true);
        ts = new TuneSettings(ts.survey(), ts.space(), ts.scheduler(), ts.searcher(), ts.samples(), ts.maxT(), ts.gracePeriod(), ts.reductionFactor(),
                ts.perturbationInterval(), "val_macro_f1", "max", req.path("architecture").asText("small-cnn"), null, 0, seed, 1, 0, 1,
                master == null ? "local" : "spark", master,
                false, 1, name, true, workers);
        Tuning.Stage tuned = TuneCommand.run(main, ts, folder.resolve("tune").toString(), Files.exists(folder.resolve("tune/experiment.json")), log,
                Map.of("val_survey", f.val.toString()));
        Map<String, Object> best = new LinkedHashMap<>(tuned.best() == null ? Map.of() : tuned.best().config());
        stage("selection", Map.of("trials", tuned.state().trials.size(), "best", best, "metric", "val_macro_f1"), t0);

        t0 = System.nanoTime();
        progress("training");
        Map<String, Object> c = TrainConfig.defaults(f.train.toString()).toMap();
        c.putAll(best);
        c.put("model", req.path("architecture").asText("small-cnn"));
        c.put("epochs", epochs);
        c.put("seed", seed);
        c.put("val_survey", f.val.toString());
        c.put("decode_threads", Math.max(1, Runtime.getRuntime().availableProcessors()));
        c.put("workers", workers);
        URI runUri = folder.resolve("train").toUri();
        TrainingRun run = Files.exists(folder.resolve("train/config.json")) ? TrainingRun.open(runUri, S3Settings.fromEnvironment())
                : TrainingRun.create(runUri, TrainConfig.fromMap(c), S3Settings.fromEnvironment());
        ModelRegistry registry = main.registry();
        ModelRegistry.Version candidate;
        if (run.config().workers() > 1) {
            // data-parallel: one barrier stage of that many ranks, on the given master or this machine's Spark
            int ranks = run.config().workers();
            org.apache.spark.sql.SparkSession spark = dev.canopy.spark.SparkSessions.create(
                    master != null ? master : dev.canopy.spark.SparkSessions.localWithSlots(ranks), "canopy-retrain-train", List.of());
            try {
                log.printf("training on %d data-parallel ranks (%s)%n", ranks, spark.sparkContext().master());
                dev.canopy.spark.SparkTraining.Outcome o = dev.canopy.spark.SparkTraining.run(spark, runUri, ranks, registry.store().root(),
                        main.home().cache().resolve("models"), name);
                candidate = registry.resolve(o.registered());
            } finally {
                spark.stop();
            }
        } else {
            candidate = TrainCommand.trainAndRegister(main, log, run, name);
        }
        stage("training", Map.of("config", c, "registered", candidate.ref()), t0);

        t0 = System.nanoTime();
        progress("validation");
        String production = null;
        try {
            production = registry.resolve(name + "@production").ref();
        } catch (dev.canopy.model.RegistryException none) {
            // no production model yet: the candidate waits for an explicit approve
        }
        Confusion candidateConfusion = confusion(registry, candidate.ref(), f);
        double candidateF1 = macroF1(candidateConfusion, f);
        Double productionF1 = production == null ? null : macroF1(confusion(registry, production, f), f);
        double margin = req.get("margin").asDouble();
        String decision;
        String reason;
        if (productionF1 == null) {
            decision = "pending";
            reason = String.format("no production model: candidate macro F1 %.4f on %d test tiles; approve it to promote", candidateF1, f.test.size());
        } else if (candidateF1 >= productionF1 + margin) {
            decision = "promote";
            reason = String.format("candidate macro F1 %.4f beats production %s (%.4f) by at least %.4f on %d test tiles", candidateF1, production,
                    productionF1, margin, f.test.size());
        } else {
            decision = "reject";
            reason = String.format("candidate macro F1 %.4f does not beat production %s (%.4f) by %.4f on %d test tiles; production unchanged",
                    candidateF1, production, productionF1, margin, f.test.size());
        }
        Map<String, Object> gate = new LinkedHashMap<>();
        gate.put("metric", "macro_f1");
        gate.put("candidate_macro_f1", candidateF1);
        gate.put("production", production);
        gate.put("production_macro_f1", productionF1);
        gate.put("margin", margin);
        gate.put("test_tiles", f.test.size());
        // rows: the labels' class; columns: the candidate's prediction (the last column: a class the labels do not have)
        gate.put("candidate_confusion", Map.of("classes", f.classes, "matrix", candidateConfusion.matrix()));
        gate.put("reason", reason);
        stage("validation", gate, t0);
        stage("registration", Map.of("candidate", candidate.ref(), "decision", decision), System.nanoTime());

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("model", name);
        result.put("candidate", candidate.ref());
        result.put("candidate_version", candidate.version());
        result.put("decision", decision);
        result.put("gate", gate);
        result.put("classes", f.classes);
        result.put("stages", stages);
        write("retrain-result.json", result);
        progress("done");
        Files.write(out.resolve("_SUCCESS"), new byte[0]);
        log.printf("retrain %s: candidate %s, %s (%s)%n", name, candidate.ref(), decision, reason);
        return 0;
    }

    /** The labelled tiles, their classes and where each went. */
    record Features(URI train, URI val, List<Long> unused, List<String> classes, Map<String, Long> balance, Map<SpatialSplit.Part, Integer> split,
                    List<ManifestRow> test) {
        Map<String, Object> summary() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("classes", classes);
            m.put("class_balance", balance);
            Map<String, Integer> s = new LinkedHashMap<>();
            split.forEach((k, v) -> s.put(k.name().toLowerCase(java.util.Locale.ROOT), v));
            m.put("split", s);
            return m;
        }
    }

    private record Labelled(String cls, Instant at) { }

    private record GeometryLabel(Geometry g, String cls, Instant at) { }

    private Features features(JsonNode req, PrintWriter log) throws Exception {
        Map<String, Labelled> byTile = new HashMap<>();
        List<GeometryLabel> geometries = new ArrayList<>();
        for (JsonNode l : req.get("label_rows")) {
            Instant at = Instant.parse(l.get("time").asText());
            String cls = l.get("class").asText();
            if (l.hasNonNull("tile_id")) byTile.merge(l.get("tile_id").asText(), new Labelled(cls, at), (a, b) -> b.at.isAfter(a.at) ? b : a);
            else geometries.add(new GeometryLabel(Area.parse(l.get("geometry").toString()).geometry(), cls, at));
        }
        Geometry area = req.path("labels").hasNonNull("area") ? Area.parse(req.get("labels").get("area").toString()).geometry() : null;
        int k = req.get("block_size").asInt();
        SpatialSplit split = new SpatialSplit(k, 0.2, 0.2, req.get("seed").asLong());
        Map<String, ManifestRow> rows = new TreeMap<>();
        Map<String, String> classOf = new HashMap<>();
        try (ObjectStore survey = ObjectStores.open(URI.create(req.get("survey_uri").asText()), S3Settings.fromEnvironment());
             Stream<ManifestRow> all = Manifest.open(survey).rows()) {
            WKBReader wkb = new WKBReader();
            for (ManifestRow r : (Iterable<ManifestRow>) all::iterator) {
                Labelled best = byTile.get(r.id());
                if (!geometries.isEmpty() || area != null) {
                    Geometry foot = wkb.read(r.footprintWkb());
                    if (area != null && !area.intersects(foot)) continue;
                    for (GeometryLabel g : geometries) {
                        if (!g.g.getEnvelopeInternal().intersects(foot.getEnvelopeInternal())) continue;
                        // the tiles whose footprint is at least half inside the label's geometry
                        if (g.g.intersection(foot).getArea() >= 0.5 * foot.getArea() && (best == null || g.at.isAfter(best.at))) best = new Labelled(g.cls, g.at);
                    }
                }
                if (best == null) continue;
                rows.put(r.id(), r);
                classOf.put(r.id(), best.cls);
            }
        }
        List<String> classes = new ArrayList<>(new TreeSet<>(classOf.values()));
        if (classes.size() < 2) {
            throw new dev.canopy.api.CanopyException("retrain.too_few_classes", "the labels cover " + rows.size() + " tiles in " + classes.size()
                    + " class(es); a classifier needs at least two", "label tiles of at least two classes, or widen the labels query");
        }
        Map<String, Long> balance = new TreeMap<>();
        Map<SpatialSplit.Part, Integer> counts = new EnumMap<>(SpatialSplit.Part.class);
        for (SpatialSplit.Part p : SpatialSplit.Part.values()) counts.put(p, 0);
        Path snap = folder.resolve("snapshot");
        List<ManifestRow> test = new ArrayList<>();
        try (ManifestWriter train = writer(snap.resolve("train"), classes); ManifestWriter val = writer(snap.resolve("val"), classes);
             ManifestWriter tst = writer(snap.resolve("test"), classes)) {
            for (ManifestRow r : rows.values()) {
                String cls = classOf.get(r.id());
                balance.merge(cls, 1L, Long::sum);
                ManifestRow labelled = new ManifestRow(r.id(), r.uri(), r.key(), r.row(), r.col(), r.bbox(), r.footprintWkb(), r.captureTime(), cls,
                        classes.indexOf(cls), r.cover());
                SpatialSplit.Part p = split.of(r.row(), r.col());
                counts.merge(p, 1, Integer::sum);
                switch (p) {
                    case TRAIN -> train.write(labelled);
                    case VALIDATION -> val.write(labelled);
                    case TEST -> {
                        tst.write(labelled);
                        test.add(labelled);
                    }
                    case RING -> { } // touches another split: used nowhere
                }
            }
        }
        for (SpatialSplit.Part p : List.of(SpatialSplit.Part.TRAIN, SpatialSplit.Part.VALIDATION, SpatialSplit.Part.TEST)) {
            if (counts.get(p) == 0) {
                throw new dev.canopy.api.CanopyException("retrain.empty_split", "the " + p.name().toLowerCase(java.util.Locale.ROOT) + " split has no tiles ("
                        + rows.size() + " labelled tiles in blocks of " + k + "x" + k + ")", "label more tiles, or give a smaller block_size");
            }
        }
        log.printf("features: %d labelled tiles, classes %s, balance %s, split %s%n", rows.size(), classes, balance, counts);
        return new Features(snap.resolve("train").toUri(), snap.resolve("val").toUri(), List.of(), classes, balance, counts, test);
    }

    private static ManifestWriter writer(Path dir, List<String> classes) throws java.io.IOException {
        Files.createDirectories(dir);
        return new ManifestWriter(new FileObjectStore(dir), ManifestWriter.DEFAULT_ROWS_PER_PART, Map.of(), classes);
    }

    /** The confusion of {@code ref} on the test tiles; a predicted class outside the labels' is the extra last column. */
    private Confusion confusion(ModelRegistry registry, String ref, Features f) throws Exception {
        Confusion confusion = new Confusion(f.classes.size() + 1); // the extra class: "predicted something the labels do not have"
        try (TileClassifier m = registry.load(ref); TileSource source = new TileSource(null, S3Settings.fromEnvironment())) {
            ImageDecoder decoder = m.card().decoder();
            List<String> modelClasses = m.card().classes();
            for (ManifestRow r : f.test) {
                float[] x = decoder.decode(source.fetch(URI.create(r.uri())).get(), r.id());
                float[] p = m.predict(x, 1);
                int top = 0;
                for (int i = 1; i < p.length; i++) if (p[i] > p[top]) top = i;
                int predicted = f.classes.indexOf(modelClasses.get(top));
                confusion.add(r.label(), predicted < 0 ? f.classes.size() : predicted);
            }
        }
        return confusion;
    }

    /** Macro F1 over the labels' classes; a prediction outside them counts as wrong. */
    private static double macroF1(Confusion confusion, Features f) {
        List<String> names = new ArrayList<>(f.classes);
        names.add("other");
        Map<String, Double> metrics = confusion.metrics("test", names);
        // macro over the labels' classes only: "other" is never a true class
        double sum = 0;
        for (String c : f.classes) sum += metrics.get("test_f1_" + c);
        return sum / f.classes.size();
    }

    private void stage(String name, Map<String, Object> detail, long startNanos) throws java.io.IOException {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("stage", name);
        s.put("seconds", startNanos == 0 ? 0 : Math.round((System.nanoTime() - startNanos) / 1e7) / 100.0);
        s.put("detail", detail);
        s.put("finished_at", Instant.now().toString());
        stages.add(s);
        write("stages.json", stages);
    }

    private void progress(String stage) throws java.io.IOException {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("stage", stage);
        p.put("stages_done", stages.stream().map(s -> s.get("stage")).toList());
        p.put("updatedAt", Instant.now().toString());
        write("progress.json", p);
    }

    private void write(String file, Object value) throws java.io.IOException {
        Path tmp = out.resolve(file + ".tmp");
        Files.write(tmp, Json.write(value));
        Files.move(tmp, out.resolve(file), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
