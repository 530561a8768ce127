package dev.canopy.batch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.api.ProgressListener;
import dev.canopy.imagery.ImageDecoder;
import dev.canopy.imagery.LandCover;
import dev.canopy.imagery.Manifest;
import dev.canopy.imagery.ManifestRow;
import dev.canopy.imagery.SurveyGenerator;
import dev.canopy.imagery.SurveySpec;
import dev.canopy.model.Architecture;
import dev.canopy.model.ModelCard;
import dev.canopy.model.ModelRegistry;
import dev.canopy.storage.FileObjectStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.io.LocalInputFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The batch pipeline without any engine: shards on threads of this JVM (the engine-neutral module tests itself). */
class LocalBatchInferenceTest {
    @TempDir
    Path tmp;

    @Test
    void everyRowOnceWithErrorRowsOnLocalThreads() throws Exception {
        Path survey = tmp.resolve("survey");
        try (SurveyGenerator g = new SurveyGenerator(2); FileObjectStore s = new FileObjectStore(survey)) {
            g.generate(SurveySpec.of(70, 32, 3), s, ProgressListener.NONE);
        }
        Files.write(survey.resolve("tiles/r00000c00002.jpg"), new byte[] {1, 2, 3});
        ModelRegistry registry = new ModelRegistry(new FileObjectStore(tmp.resolve("reg")), tmp.resolve("cache"), Clock.systemUTC());
        ModelCard card = new ModelCard("m", ModelCard.FORMAT_DJL, "small-cnn", 32, ImageDecoder.IMAGENET_MEAN, ImageDecoder.IMAGENET_STD,
                LandCover.labels(), Map.of(), null);
        ModelRegistry.Version v = registry.register("m", card, Architecture.SMALL_CNN.initialWeights(5, 32, 1));
        Path out = tmp.resolve("out");
        InferenceJobSpec job = new InferenceJobSpec(survey.toUri().toString(), registry.store().root().toString(), registry.packagePrefix(v), v.ref(),
                null, out.toUri().toString(), 2, 8, 1_000, 2, 16, 1 << 20);
        BatchInference.Summary s = BatchInference.run(job, card, null, BatchInference.Options.defaults().withRowsPerShard(25),
                new LocalShardRunner(2), ProgressListener.NONE);
        assertThat(s.rows()).isEqualTo(70);
        assertThat(s.errors()).isEqualTo(1);
        assertThat(s.shards()).isEqualTo(3);
        long rows = 0;
        Set<String> ids = new HashSet<>();
        for (Path shard : Files.list(out.resolve("shards")).toList()) {
            try (ParquetReader<Group> r = new ParquetReader.Builder<Group>(new LocalInputFile(shard)) {
                @Override
                protected org.apache.parquet.hadoop.api.ReadSupport<Group> getReadSupport() {
                    return new GroupReadSupport();
                }
            }.build()) {
                for (Group g = r.read(); g != null; g = r.read()) {
                    rows++;
                    ids.add(g.getString("id", 0));
                }
            }
        }
        assertThat(rows).isEqualTo(70);
        assertThat(ids).hasSize(70);
        try (FileObjectStore s2 = new FileObjectStore(survey); var all = Manifest.open(s2).rows()) {
            assertThat(all.map(ManifestRow::id)).containsExactlyInAnyOrderElementsOf(ids);
        }
    }
}
