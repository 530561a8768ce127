package dev.canopy.model;

import dev.canopy.api.Json;
import dev.canopy.storage.Keys;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.StorageException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Named, versioned model packages with stages, kept in an object store:
 * <pre>
 *   models/NAME/versions/000001/.claim        created with put-if-absent: the version number is taken
 *   models/NAME/versions/000001/model.json    written last: the version is complete
 *   models/NAME/stages/production.json        {"version": 1, ...}: which version holds the stage
 * </pre>
 * There is no shared index file to corrupt: concurrent writers each win a distinct version number
 * through put-if-absent, and the index is the listing itself. A stage pointer is one small object
 * replaced atomically, so the last promotion wins.
 */
public final class ModelRegistry {
    public static final List<String> STAGES = List.of("none", "staging", "production");
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    private static final Pattern REF = Pattern.compile("([^:@]+)(?::(\\d{1,9})|@([a-z]+))?");
    private static final Pattern VERSION_KEY = Pattern.compile("models/[^/]+/versions/(\\d{6})/model\\.json");

    private final ObjectStore store;
    private final Path cacheDir;
    private final Clock clock;

    public ModelRegistry(ObjectStore store, Path cacheDir, Clock clock) {
        this.store = store;
        this.cacheDir = cacheDir;
        this.clock = clock;
    }

    /** One registered version and the stage it holds ({@code none} if it holds none). */
    public record Version(String name, int version, String stage, ModelCard card, Instant registeredAt) {
        public String ref() {
            return name + ":" + version;
        }
    }

    private record StagePointer(int version, Instant promotedAt) { }

    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new RegistryException(RegistryException.Kind.BAD_NAME, "invalid model name '" + name + "'",
                    "use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        return name;
    }

    private static String versionPrefix(String name, int v) {
        return String.format("models/%s/versions/%06d", name, v);
    }

    /**
     * Stores a land-cover classifier ({@link dev.canopy.imagery.LandCover} labels, ImageNet normalisation) with its
     * architecture's initial weights for {@code seed}: what benchmarks and pipeline tests run when throughput, not
     * accuracy, is measured. Its card has no metrics and no provenance: it was never trained.
     */
    public Version registerUntrained(String name, Architecture arch, int inputSize, int seed) {
        ModelCard card = new ModelCard(name, ModelCard.FORMAT_DJL, arch.id(), inputSize, dev.canopy.imagery.ImageDecoder.IMAGENET_MEAN,
                dev.canopy.imagery.ImageDecoder.IMAGENET_STD, dev.canopy.imagery.LandCover.labels(), Map.of(), null);
        return register(name, card, arch.initialWeights(dev.canopy.imagery.LandCover.labels().size(), inputSize, seed));
    }

    /** Stores a new version and returns it. Safe against concurrent registrations of the same name. */
    public Version register(String name, ModelCard card, byte[] weights) {
        checkName(name);
        int v = latestVersionNumber(name) + 1;
        // the claim names its writer, so a retried conditional PUT whose answer was lost still knows it won
        byte[] claim = ("{\"writer\": \"" + java.util.UUID.randomUUID() + "\", \"at\": \"" + Instant.now(clock) + "\"}").getBytes(
                java.nio.charset.StandardCharsets.UTF_8);
        while (!store.putIfAbsent(versionPrefix(name, v) + "/.claim", claim)) {
            v++; // another writer took this number: try the next
        }
        ModelPackage.write(store, versionPrefix(name, v), card.withName(name), weights);
        return version(name, v);
    }

    private int latestVersionNumber(String name) {
        int max = 0;
        try (var s = store.listAll("models/" + name + "/versions/")) {
            for (ObjectInfo o : (Iterable<ObjectInfo>) s::iterator) {
                String[] parts = o.key().split("/");
                if (parts.length >= 4) max = Math.max(max, Integer.parseInt(parts[3]));
            }
        }
        return max;
    }

    public List<String> names() {
        TreeSet<String> names = new TreeSet<>();
        try (var s = store.listAll("models/")) {
            s.map(ObjectInfo::key).filter(k -> k.endsWith("/model.json")).forEach(k -> names.add(k.split("/")[1]));
        }
        return new ArrayList<>(names);
    }

    /** Complete versions of a model, oldest first. */
    public List<Version> versions(String name) {
        checkName(name);
        Map<Integer, String> stages = stagesByVersion(name);
        TreeMap<Integer, Instant> found = new TreeMap<>();
        try (var s = store.listAll("models/" + name + "/versions/")) {
            for (ObjectInfo o : (Iterable<ObjectInfo>) s::iterator) {
                Matcher m = VERSION_KEY.matcher(o.key());
                if (m.matches()) found.put(Integer.parseInt(m.group(1)), o.lastModified());
            }
        }
        return found.entrySet().stream().map(e -> new Version(name, e.getKey(), stages.getOrDefault(e.getKey(), "none"),
                cardOf(name, e.getKey()), e.getValue())).collect(Collectors.toList());
    }

    private ModelCard cardOf(String name, int v) {
        return ModelPackage.open(store, versionPrefix(name, v)).card();
    }

    private Map<Integer, String> stagesByVersion(String name) {
        Map<Integer, String> out = new TreeMap<>();
        for (String stage : STAGES) {
            if (stage.equals("none")) continue;
            stagePointer(name, stage).ifPresent(p -> out.put(p.version(), stage));
        }
        return out;
    }

    private Optional<StagePointer> stagePointer(String name, String stage) {
        try {
            return Optional.of(Json.read(store.get("models/" + name + "/stages/" + stage + ".json"), StagePointer.class, "stage pointer"));
        } catch (StorageException.NotFound e) {
            return Optional.empty();
        }
    }

    public Version version(String name, int v) {
        if (!store.exists(versionPrefix(name, v) + "/" + ModelPackage.CARD)) {
            throw new RegistryException(RegistryException.Kind.NO_VERSION, "model " + name + " has no version " + v,
                    "see 'canopy model show " + name + "' for its versions");
        }
        String stage = stagesByVersion(name).getOrDefault(v, "none");
        Instant at = store.stat(versionPrefix(name, v) + "/" + ModelPackage.CARD).map(ObjectInfo::lastModified).orElse(null);
        return new Version(name, v, stage, cardOf(name, v), at);
    }

    /** Resolves {@code NAME}, {@code NAME:VERSION} or {@code NAME@STAGE}; a bare name means production, else the latest. */
    public Version resolve(String ref) {
        Matcher m = REF.matcher(ref == null ? "" : ref.trim());
        if (!m.matches()) throw new RegistryException(RegistryException.Kind.BAD_REF, "invalid model reference '" + ref + "'", "write NAME, NAME:VERSION or NAME@STAGE");
        String name = checkName(m.group(1));
        if (m.group(2) != null) return version(name, Integer.parseInt(m.group(2)));
        if (m.group(3) != null) {
            String stage = checkStage(m.group(3));
            StagePointer p = stagePointer(name, stage).orElseThrow(() -> new RegistryException(RegistryException.Kind.NO_STAGE,
                    "no version of " + name + " is in stage " + stage, "promote one: canopy model promote " + name + ":VERSION " + stage));
            return version(name, p.version());
        }
        Optional<StagePointer> prod = stagePointer(name, "production");
        if (prod.isPresent()) return version(name, prod.get().version());
        List<Version> all = versions(name);
        if (all.isEmpty()) {
            throw new RegistryException(RegistryException.Kind.UNKNOWN_MODEL, "no model named '" + name + "' in the registry at " + store.root(),
                    "train one (canopy train) or import one (canopy model import); 'canopy model list' shows what exists");
        }
        return all.get(all.size() - 1);
    }

    private static String checkStage(String stage) {
        String s = stage.toLowerCase(Locale.ROOT);
        if (!STAGES.contains(s)) throw new RegistryException(RegistryException.Kind.BAD_STAGE, "unknown stage '" + stage + "'", "use one of " + STAGES);
        return s;
    }

    /** Moves {@code stage} to this version; stage {@code none} removes the version from any stage it holds. */
    public Version promote(String name, int v, String stage) {
        String s = checkStage(stage);
        Version target = version(name, v);
        if (s.equals("none")) {
            for (String st : STAGES) {
                if (!st.equals("none") && stagePointer(name, st).map(p -> p.version() == v).orElse(false)) {
                    store.delete("models/" + name + "/stages/" + st + ".json");
                }
            }
        } else {
            // a version holds one stage at a time: leaving staging when promoted to production
            for (String st : STAGES) {
                if (!st.equals("none") && !st.equals(s) && stagePointer(name, st).map(p -> p.version() == v).orElse(false)) {
                    store.delete("models/" + name + "/stages/" + st + ".json");
                }
            }
            store.put("models/" + name + "/stages/" + s + ".json", Json.write(new StagePointer(v, Instant.now(clock))));
        }
        return version(target.name(), target.version());
    }

    /** Key prefix of a version's package inside {@link #store()}. */
    public String packagePrefix(Version v) {
        return versionPrefix(v.name(), v.version());
    }

    public ModelPackage openPackage(Version v) {
        return ModelPackage.open(store, versionPrefix(v.name(), v.version()));
    }

    public TileClassifier load(String ref) {
        Version v = resolve(ref);
        return openPackage(v).load(cacheDir.resolve(v.name()).resolve(Integer.toString(v.version())));
    }

    public ObjectStore store() {
        return store;
    }
}
