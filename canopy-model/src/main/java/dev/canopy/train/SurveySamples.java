package dev.canopy.train;

import dev.canopy.api.Digests;
import dev.canopy.api.train.TrainingException;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.ManifestWriter;
import dev.canopy.storage.ObjectStore;
import java.net.URI;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a training run learns from: a survey's tiles split into training and validation (by a hash of
 * the tile id, so the split never changes), the class list, class weights (inverse frequency when
 * asked for) and the digest of the manifest index (provenance).
 */
record SurveySamples(List<String> classes, List<Sample> train, List<Sample> val, float[] classWeights, String datasetDigest) {

    static SurveySamples load(ObjectStore survey, TrainConfig config) {
        Manifest manifest = Manifest.open(survey);
        List<String> classes = manifest.classes();
        String digest = Digests.sha256(survey.get(ManifestWriter.INDEX));
        List<Sample> train = new ArrayList<>();
        List<Sample> val = new ArrayList<>();
        long[] perClass = new long[classes.size()];
        try (Stream<ManifestRow> rows = manifest.rows()) {
            Iterator<ManifestRow> it = rows.iterator();
            int n = 0;
            while (it.hasNext() && (config.maxTiles() == 0 || n < config.maxTiles())) {
                ManifestRow r = it.next();
                if (r.label() < 0 || r.label() >= classes.size()) {
                    throw new TrainingException("train.wrong_class_count", "tile " + r.id() + " has label " + r.label() + " but the survey lists "
                            + classes.size() + " classes", "regenerate the manifest");
                }
                Sample s = new Sample(r.id(), URI.create(r.uri()), r.label());
                (config.valSurvey() == null && Split.isValidation(r.id(), config.valPercent()) ? val : train).add(s);
                perClass[r.label()]++;
                n++;
            }
        }
        if (config.valSurvey() != null) loadValidation(config, classes, val, perClass);
        if (train.isEmpty() || val.isEmpty()) {
            throw new TrainingException("train.empty_survey", "survey " + config.survey() + " has " + (train.size() + val.size())
                    + " usable tiles; training needs some for training and some for validation", "generate a larger survey (--tiles 200 or more)");
        }
        int present = 0;
        for (long c : perClass) if (c > 0) present++;
        if (present < 2) {
            throw new TrainingException("train.one_class", "every tile of " + config.survey() + " has the same class",
                    "a classifier needs at least two classes; use a larger or more varied survey");
        }
        float[] weights = new float[classes.size()];
        long total = train.size() + val.size();
        for (int c = 0; c < classes.size(); c++) {
            weights[c] = !config.classWeights() || perClass[c] == 0 ? 1f : (float) (total / (double) (present * perClass[c]));
        }
        return new SurveySamples(classes, train, val, weights, digest);
    }

    /** Validation tiles from their own manifest (a spatial split made beforehand); its classes must be the survey's. */
    private static void loadValidation(TrainConfig config, List<String> classes, List<Sample> val, long[] perClass) {
        try (ObjectStore vs = dev.canopy.storage.ObjectStores.open(dev.canopy.storage.ObjectStores.toUri(config.valSurvey()),
                dev.canopy.storage.S3Settings.fromEnvironment())) {
            Manifest m = Manifest.open(vs);
            if (!m.classes().equals(classes)) {
                throw new TrainingException("train.val_classes", "the validation manifest " + config.valSurvey() + " lists classes " + m.classes()
                        + ", the training survey " + classes, "write both manifests with the same class list");
            }
            try (Stream<ManifestRow> rows = m.rows()) {
                rows.forEach(r -> {
                    val.add(new Sample(r.id(), URI.create(r.uri()), r.label()));
                    perClass[r.label()]++;
                });
            }
        }
    }
}
