package dev.canopy.cluster;

import dev.canopy.api.CanopyException;
import dev.canopy.api.Json;
import dev.canopy.storage.ObjectInfo;
import dev.canopy.storage.ObjectStore;
import dev.canopy.storage.StorageException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Bundles, the application images clusters start from: a set of jars (Canopy's, its dependencies', Spark's) and a
 * little configuration, stored content-addressed in an object store, so that a cluster started from a digest runs
 * exactly those bytes wherever it runs.
 *
 * <p>Layout under the store: {@code blobs/SHA256} for each jar (shared by every bundle that has it, so a new build
 * stores only the jars that changed) and {@code bundles/DIGEST.json}, the manifest. The digest is the SHA-256 of the
 * manifest's content part (each jar's name and SHA-256, the configuration), so equal content is the same bundle.
 * Status ({@value #BUILT}, {@value #TESTED}, {@value #FAILED}) and tags are mutable facts about a bundle, not part of
 * its content; a tag names one bundle at a time (tagging another bundle moves it, as with image tags).
 *
 * <p>Threads: any; a change of status or tags rewrites the manifest (last writer wins: one operator's tool).
 */
public final class Bundles {
    public static final String BUILT = "built";
    public static final String TESTED = "tested";
    public static final String FAILED = "failed";
    public static final List<String> STATUSES = List.of(BUILT, TESTED, FAILED);
    public static final String PRODUCTION = "production";
    private static final Pattern DIGEST = Pattern.compile("sha256-[0-9a-f]{64}");
    private static final Pattern TAG = Pattern.compile("[a-z][a-z0-9._-]{0,39}");
    /** A jar's name in a manifest: a plain file name, so that laying a bundle out never writes outside its folder. */
    private static final Pattern JAR_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\\.jar");
    /** Fixed entry times make a jar of a class folder depend on its content only. */
    private static final java.time.LocalDateTime ZIP_TIME = java.time.LocalDateTime.of(1980, 1, 2, 0, 0);

    /** One jar of a bundle. */
    public record Jar(String name, String sha256, long size) { }

    /** A bundle's manifest. */
    public record Bundle(String digest, Instant createdAt, String source, List<Jar> jars, Map<String, String> config, String status, List<String> tags) {
        public String shortDigest() {
            return digest.substring(0, 19);
        }
    }

    private final ObjectStore store;
    private final Path cache;
    private final Clock clock;

    /**
     * The bundles of a Canopy home, as the CLI and the server both find them: in {@code $CANOPY_BUNDLES} (any object
     * store address) or else {@code HOME/bundles}, laid out under {@code HOME/cache/bundles}.
     */
    public static Bundles ofHome(Path home, Clock clock) {
        String loc = System.getenv("CANOPY_BUNDLES");
        ObjectStore store = loc == null || loc.isBlank() ? new dev.canopy.storage.FileObjectStore(home.resolve("bundles"))
                : dev.canopy.storage.ObjectStores.open(loc);
        return new Bundles(store, home.resolve("cache").resolve("bundles"), clock);
    }

    /** {@code cache}: where bundles are laid out as jar folders for processes to run (one per digest, kept). */
    public Bundles(ObjectStore store, Path cache, Clock clock) {
        this.store = store;
        this.cache = cache;
        this.clock = clock;
    }

    /**
     * Builds the bundle of {@code classPath} (jars as they are; class folders, as tests have them, become jars with
     * fixed entry times) with {@code config}, storing the jars not stored yet. Building the same content again answers
     * the same bundle, its status and tags kept.
     */
    public Bundle build(List<Path> classPath, Map<String, String> config, String source) {
        Path staging = cache.resolve(".staging-" + Long.toHexString(System.nanoTime()));
        try {
            Files.createDirectories(staging);
            List<Jar> jars = new ArrayList<>();
            Map<String, Integer> seen = new TreeMap<>();
            for (Path entry : classPath) {
                Path jar;
                if (Files.isDirectory(entry)) {
                    jar = staging.resolve(uniqueName(folderJarName(entry), seen));
                    jarOfFolder(entry, jar);
                } else if (Files.isRegularFile(entry) && entry.getFileName().toString().endsWith(".jar")) {
                    jar = entry;
                } else {
                    continue; // a class path entry that does not exist, or is not a jar: nothing a process could load
                }
                String name = jar.getParent().equals(staging) ? jar.getFileName().toString() : uniqueName(jar.getFileName().toString(), seen);
                String sha = sha256(jar);
                putBlob("blobs/" + sha, jar);
                jars.add(new Jar(name, sha, Files.size(jar)));
            }
            jars.sort(java.util.Comparator.comparing(Jar::name));
            Map<String, String> conf = new TreeMap<>(config == null ? Map.of() : config);
            String digest = "sha256-" + dev.canopy.api.Digests.sha256(Json.writeString(contentOf(jars, conf)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            Optional<Bundle> known = get(digest);
            if (known.isPresent()) return known.get();
            Bundle b = new Bundle(digest, clock.instant(), source, List.copyOf(jars), conf, BUILT, List.of());
            write(b);
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build a bundle", e);
        } finally {
            dev.canopy.storage.LocalFiles.deleteQuietly(staging);
        }
    }

    private static Map<String, Object> contentOf(List<Jar> jars, Map<String, String> conf) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("jars", jars.stream().map(j -> j.name() + " " + j.sha256()).toList());
        m.put("config", conf);
        return m;
    }

    /** A bundle by full digest, unique digest prefix (at least {@code sha256-} and 8 hex digits), or tag. */
    public Optional<Bundle> find(String ref) {
        if (ref == null) return Optional.empty();
        if (DIGEST.matcher(ref).matches()) return get(ref);
        if (ref.matches("sha256-[0-9a-f]{8,63}")) {
            List<Bundle> matches = list().stream().filter(b -> b.digest().startsWith(ref)).toList();
            if (matches.size() > 1) throw new CanopyException("bundle.ambiguous", "digest prefix " + ref + " names " + matches.size() + " bundles",
                    "give more digits (canopy bundle list)");
            return matches.stream().findFirst();
        }
        return list().stream().filter(b -> b.tags().contains(ref)).findFirst();
    }

    /** Like {@link #find}, but an unknown reference is an error naming the fix. */
    public Bundle require(String ref) {
        return find(ref).orElseThrow(() -> new CanopyException("bundle.unknown", "no bundle '" + ref + "'",
                "list them with 'canopy bundle list', or build one with 'canopy bundle build'"));
    }

    Optional<Bundle> get(String digest) {
        try {
            return Optional.of(checked(read(store.get("bundles/" + digest + ".json")), digest));
        } catch (StorageException.NotFound e) {
            return Optional.empty();
        }
    }

    /**
     * A manifest as read from the store, trusted only if its content hashes to the digest it is stored under and its jar
     * names are plain, unique file names: a manifest changed in the store is refused, not run.
     */
    static Bundle checked(Bundle b, String digest) {
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Jar j : b.jars()) {
            if (!JAR_NAME.matcher(j.name()).matches() || !names.add(j.name()) || !j.sha256().matches("[0-9a-f]{64}")) {
                throw corrupt(digest, "jar entry '" + j.name() + "' is not a plain, unique jar name with a SHA-256");
            }
        }
        String actual = "sha256-" + dev.canopy.api.Digests.sha256(Json.writeString(contentOf(b.jars(), new TreeMap<>(b.config()))).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        if (!actual.equals(digest) || !b.digest().equals(digest)) throw corrupt(digest, "its content hashes to " + actual);
        return b;
    }

    private static CanopyException corrupt(String digest, String why) {
        return new CanopyException("bundle.corrupt", "bundle manifest " + digest + " does not match its digest: " + why,
                "build the bundle again (canopy bundle build); the store was changed by something other than Canopy");
    }

    /** Every bundle, newest first. */
    public List<Bundle> list() {
        List<Bundle> out = new ArrayList<>();
        try (Stream<ObjectInfo> all = store.listAll("bundles/")) {
            all.filter(o -> o.key().endsWith(".json")).forEach(o -> {
                String digest = o.key().substring("bundles/".length(), o.key().length() - ".json".length());
                try {
                    out.add(checked(read(store.get(o.key())), digest));
                } catch (CanopyException corrupt) {
                    org.slf4j.LoggerFactory.getLogger(Bundles.class).warn("skipping {}: {}", o.key(), corrupt.getMessage()); // one bad manifest hides only itself
                }
            });
        }
        out.sort(java.util.Comparator.comparing(Bundle::createdAt).reversed());
        return out;
    }

    /** Tags {@code ref}'s bundle; the tag leaves whichever bundle had it. */
    public Bundle tag(String ref, String tag) {
        if (tag == null || !TAG.matcher(tag).matches() || tag.startsWith("sha256")) {
            throw new CanopyException("bundle.bad_tag", "tag '" + tag + "' is not allowed", "use 1-40 lower-case letters, digits, dots, dashes and underscores, e.g. production");
        }
        Bundle b = require(ref);
        for (Bundle other : list()) {
            if (!other.digest().equals(b.digest()) && other.tags().contains(tag)) {
                write(new Bundle(other.digest(), other.createdAt(), other.source(), other.jars(), other.config(), other.status(),
                        other.tags().stream().filter(t -> !t.equals(tag)).toList()));
            }
        }
        if (b.tags().contains(tag)) return b;
        List<String> tags = new ArrayList<>(b.tags());
        tags.add(tag);
        Bundle tagged = new Bundle(b.digest(), b.createdAt(), b.source(), b.jars(), b.config(), b.status(), List.copyOf(tags));
        write(tagged);
        return tagged;
    }

    /** Records what testing found ({@value #TESTED} or {@value #FAILED}), or {@value #BUILT} again. */
    public Bundle status(String ref, String status) {
        if (!STATUSES.contains(status)) {
            throw new CanopyException("bundle.bad_status", "status '" + status + "' is not one of " + STATUSES, "use tested or failed");
        }
        Bundle b = require(ref);
        Bundle changed = new Bundle(b.digest(), b.createdAt(), b.source(), b.jars(), b.config(), status, b.tags());
        write(changed);
        return changed;
    }

    /**
     * The bundle's jars as files a process can put on its class path, under {@code cache/DIGEST/jars}: fetched from the
     * store once (each one checked against its SHA-256), then reused.
     */
    public List<Path> materialize(Bundle b) {
        checked(b, b.digest());
        Path dir = cache.resolve(b.digest()).resolve("jars");
        Path verified = dir.resolveSibling("verified");
        List<Path> out = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            boolean trusted = Files.isRegularFile(verified); // every jar here was checked against its SHA-256 once
            for (Jar j : b.jars()) {
                Path f = dir.resolve(j.name()).normalize();
                if (!f.getParent().equals(dir)) throw corrupt(b.digest(), "jar '" + j.name() + "' would be laid out outside " + dir);
                if (trusted && Files.isRegularFile(f) && Files.size(f) == j.size()) {
                    out.add(f);
                    continue;
                }
                if (Files.isRegularFile(f) && Files.size(f) == j.size() && sha256(f).equals(j.sha256())) {
                    out.add(f);
                    continue;
                }
                {
                    Path local = localPath("blobs/" + j.sha256());
                    if (local != null && Files.isRegularFile(local) && Files.size(local) == j.size()) {
                        try {
                            Files.deleteIfExists(f);
                            Files.createLink(f, local); // the blob stored on this host: checked like a fetched copy
                            if (!sha256(f).equals(j.sha256())) {
                                Files.deleteIfExists(f);
                                throw corrupt(b.digest(), "jar " + j.name() + " in the store does not match its SHA-256");
                            }
                            out.add(f);
                            continue;
                        } catch (IOException | UnsupportedOperationException otherFileSystem) {
                            // fetch a copy below
                        }
                    }
                    Path tmp = Files.createTempFile(dir, ".fetch-", ".part");
                    try (InputStream in = store.openStream("blobs/" + j.sha256())) {
                        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    }
                    if (!sha256(tmp).equals(j.sha256())) {
                        Files.deleteIfExists(tmp);
                        throw new CanopyException("bundle.corrupt", "jar " + j.name() + " of bundle " + b.shortDigest() + " does not match its digest",
                                "build the bundle again (canopy bundle build); the store may have been changed by hand");
                    }
                    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                }
                out.add(f);
            }
            if (!trusted) Files.writeString(verified, b.digest());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lay out bundle " + b.digest() + " under " + dir, e);
        }
    }

    private void write(Bundle b) {
        store.put("bundles/" + b.digest() + ".json", Json.write(b));
    }

    private static Bundle read(byte[] json) {
        try {
            return Json.MAPPER.readValue(json, Bundle.class);
        } catch (IOException e) {
            throw new CanopyException("bundle.corrupt", "a bundle manifest cannot be read: " + e.getMessage(), "build the bundle again", e);
        }
    }

    /**
     * Stores a jar once, as a copy: a link to the build's file would change with it when a later build rewrites that
     * file in place, and a blob must never change under its digest.
     */
    private void putBlob(String key, Path jar) {
        if (!store.exists(key)) store.put(key, jar);
    }

    private Path localPath(String key) {
        java.net.URI u = store.uri(key);
        return "file".equals(u.getScheme()) ? Path.of(u) : null;
    }

    /** {@code module/target/classes} becomes {@code module-classes.jar}. */
    static String folderJarName(Path folder) {
        Path abs = folder.toAbsolutePath().normalize();
        Path module = abs.getParent() != null && abs.getParent().getParent() != null ? abs.getParent().getParent() : abs;
        return module.getFileName() + "-" + abs.getFileName() + ".jar";
    }

    private static String uniqueName(String name, Map<String, Integer> seen) {
        int n = seen.merge(name, 1, Integer::sum);
        return n == 1 ? name : name.replaceFirst("\\.jar$", "") + "-" + n + ".jar";
    }

    /** A jar of a class folder whose bytes depend only on its files: entries sorted, times fixed. */
    static void jarOfFolder(Path folder, Path jar) throws IOException {
        List<Path> files;
        try (Stream<Path> all = Files.walk(folder)) {
            files = all.filter(Files::isRegularFile).sorted(java.util.Comparator.comparing(p -> folder.relativize(p).toString())).toList();
        }
        try (OutputStream os = Files.newOutputStream(jar); java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(os)) {
            for (Path f : files) {
                java.util.zip.ZipEntry e = new java.util.zip.ZipEntry(folder.relativize(f).toString().replace(java.io.File.separatorChar, '/'));
                e.setTimeLocal(ZIP_TIME); // a local date-time: the same bytes in every time zone
                zip.putNextEntry(e);
                Files.copy(f, zip);
                zip.closeEntry();
            }
        }
    }

    static String sha256(Path f) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(f), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
