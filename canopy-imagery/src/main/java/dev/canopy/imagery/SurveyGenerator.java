package dev.canopy.imagery;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.canopy.api.BoundingBox;
import dev.canopy.api.CodeVersion;
import dev.canopy.api.ProgressListener;
import dev.canopy.storage.ObjectStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Renders a synthetic survey into a store: JPEG tiles under {@code tiles/}, a Parquet manifest under
 * {@code manifest/} and a description in {@code survey.json}. Tiles are rendered in chunks on a CPU
 * pool and uploaded on an I/O pool; memory is bounded by the chunk size, not the survey size.
 * Output is a pure function of the {@link SurveySpec}: same spec, same bytes.
 */
public final class SurveyGenerator implements AutoCloseable {
    public static final String DESCRIPTION = "survey.json";
    public static final int DEFAULT_CHUNK = 256;

    private final ExecutorService cpu;
    private final ExecutorService io;
    private final int threads;

    public SurveyGenerator(int threads) {
        this.threads = Math.max(1, threads);
        this.cpu = Executors.newFixedThreadPool(this.threads, named("canopy-render"));
        this.io = Executors.newFixedThreadPool(16, named("canopy-upload"));
    }

    public SurveyGenerator() {
        this(Runtime.getRuntime().availableProcessors());
    }

    private static java.util.concurrent.ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** What was generated, also stored (with the spec) as {@code survey.json}. */
    public record Summary(SurveySpec spec, long rows, long images, long[] tilesByDominantClass, Duration elapsed,
                          BoundingBox extent) {
        public double tilesPerSecond() {
            return images / Math.max(1e-9, elapsed.toNanos() / 1e9);
        }
    }

    private record Rendered(float[] cover, LandCover dominant) { }

    public Summary generate(SurveySpec spec, ObjectStore out, ProgressListener progress) {
        Instant start = Instant.now();
        SurveyRenderer renderer = new SurveyRenderer(spec.seed(), spec.tileSize());
        ThreadLocal<TileEncoder> encoders = ThreadLocal.withInitial(() -> new TileEncoder(TileEncoder.DEFAULT_QUALITY));
        long cols = spec.columns();
        long[] byClass = new long[LandCover.values().length];
        Map<String, String> meta = Map.of("canopy.survey.seed", Long.toString(spec.seed()),
                "canopy.survey.crs", ManifestIndex.CRS, "canopy.survey.classes", String.join(",", LandCover.labels()));
        BoundingBox extent = null;
        progress.start(spec.reusesImages() ? "render " + spec.distinct() + " images" : "render tiles", spec.distinct());
        Rendered[] distinct = spec.reusesImages() ? new Rendered[Math.toIntExact(spec.distinct())] : null;
        try (ManifestWriter manifest = new ManifestWriter(out, ManifestWriter.DEFAULT_ROWS_PER_PART, meta)) {
            for (long first = 0; first < spec.distinct(); first += DEFAULT_CHUNK) {
                long end = Math.min(spec.distinct(), first + DEFAULT_CHUNK);
                List<CompletableFuture<Rendered>> chunk = new ArrayList<>();
                for (long i = first; i < end; i++) {
                    long idx = i;
                    chunk.add(CompletableFuture.supplyAsync(() -> {
                        SurveyRenderer.Tile t = renderer.render((int) (idx % cols), (int) (idx / cols));
                        byte[] jpeg = encoders.get().jpeg(t.rgb(), spec.tileSize());
                        return new Object[] {t, jpeg};
                    }, cpu).thenApplyAsync(pair -> {
                        SurveyRenderer.Tile t = (SurveyRenderer.Tile) pair[0];
                        out.put(imageKey(spec, idx), (byte[]) pair[1]);
                        return new Rendered(t.cover(), t.dominant());
                    }, io));
                }
                for (long i = first; i < end; i++) {
                    Rendered r = chunk.get((int) (i - first)).join();
                    progress.advance(1);
                    if (distinct != null) {
                        distinct[(int) i] = r;
                    } else {
                        ManifestRow row = row(spec, out, i, i, r);
                        extent = extent == null ? row.bbox() : extent.union(row.bbox());
                        byClass[r.dominant().ordinal()]++;
                        manifest.write(row);
                    }
                }
            }
            progress.finish();
            if (distinct != null) {
                progress.start("write manifest rows", spec.tiles());
                for (long i = 0; i < spec.tiles(); i++) {
                    long img = i % spec.distinct();
                    Rendered r = distinct[(int) img];
                    ManifestRow row = row(spec, out, i, img, r);
                    extent = extent == null ? row.bbox() : extent.union(row.bbox());
                    byClass[r.dominant().ordinal()]++;
                    manifest.write(row);
                    if ((i & 4095) == 4095) progress.advance(4096);
                }
                progress.advance(spec.tiles() & 4095);
                progress.finish();
            }
        }
        Summary summary = new Summary(spec, spec.tiles(), spec.distinct(), byClass, Duration.between(start, Instant.now()), extent);
        out.put(DESCRIPTION, describe(summary));
        return summary;
    }

    static String imageKey(SurveySpec spec, long imageIndex) {
        long cols = spec.columns();
        return String.format("tiles/r%05dc%05d.jpg", imageIndex / cols, imageIndex % cols);
    }

    private static ManifestRow row(SurveySpec spec, ObjectStore out, long index, long imageIndex, Rendered r) {
        long cols = spec.columns();
        long row = index / cols, col = index % cols;
        double[] fp = spec.footprint(col, row);
        String key = imageKey(spec, imageIndex);
        return new ManifestRow(String.format("r%05dc%05d", row, col), out.uri(key).toString(), key, row, col,
                new BoundingBox(fp[0], fp[1], fp[2], fp[3]), Wkb.rectangle(fp[0], fp[1], fp[2], fp[3]),
                spec.captureStart().plusMillis(index * spec.captureIntervalMillis()),
                r.dominant().label(), r.dominant().ordinal(), r.cover());
    }

    private static byte[] describe(Summary s) {
        ObjectNode n = ManifestIndex.JSON.createObjectNode();
        n.put("format", "canopy-survey/1");
        n.putPOJO("spec", s.spec());
        n.put("crs", ManifestIndex.CRS);
        n.put("rows", s.rows());
        n.put("images", s.images());
        n.putPOJO("classes", LandCover.labels());
        ObjectNode counts = n.putObject("tilesByDominantClass");
        for (LandCover c : LandCover.values()) counts.put(c.label(), s.tilesByDominantClass()[c.ordinal()]);
        n.putPOJO("extent", s.extent());
        n.put("generatedBy", "canopy " + CodeVersion.get());
        n.put("renderSeconds", s.elapsed().toMillis() / 1000.0);
        try {
            return ManifestIndex.JSON.writeValueAsBytes(n);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        cpu.shutdown();
        io.shutdown();
    }
}
