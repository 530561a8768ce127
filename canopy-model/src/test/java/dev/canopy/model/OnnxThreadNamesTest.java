package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** ONNX Runtime's own threads carry the model's name, whichever thread loads it: per-thread profiles count them as the model. */
class OnnxThreadNamesTest {
    @Test
    @EnabledOnOs(OS.LINUX)
    void intraOpThreadsAreNamedForTheModelNotForTheLoadingThread() throws Exception {
        ModelCard card = OnnxExportTest.card(Architecture.SMALL_CNN, 32);
        byte[] onnx = OnnxExport.export(card, Architecture.SMALL_CNN.initialWeights(card.classes().size(), 32, 3));
        ai.onnxruntime.OrtEnvironment.getEnvironment(); // made once per JVM, with a thread of its own: not the session's
        List<String> before = threadNames();
        TileClassifier[] loaded = new TileClassifier[1];
        Throwable[] failed = new Throwable[1];
        Thread loader = new Thread(() -> {
            try {
                loaded[0] = new OnnxClassifier(card, onnx);
            } catch (Throwable e) {
                failed[0] = e;
            }
        }, "spark-task-like-loader");
        String old = System.getProperty("canopy.onnx.threads");
        System.setProperty("canopy.onnx.threads", "3"); // the caller plus two pool threads, on any machine
        try {
            loader.start();
            loader.join();
        } finally {
            if (old == null) System.clearProperty("canopy.onnx.threads");
            else System.setProperty("canopy.onnx.threads", old);
        }
        try (TileClassifier c = loaded[0]) {
            assertThat(failed[0]).as("loading failed").isNull();
            c.predict(new float[3 * 32 * 32], 1);
            List<String> added = new ArrayList<>(threadNames());
            before.forEach(added::remove);
            // only the names at stake: the JVM may start GC or compiler threads meanwhile
            List<String> relevant = added.stream().filter(n -> n.startsWith("canopy-model") || n.startsWith("spark-task-lik")).toList();
            assertThat(relevant).as("threads started by loading the model (of %s)", added).containsOnly("canopy-model-on").hasSizeGreaterThanOrEqualTo(2);
        }
    }

    /** Linux's names of this process's threads (first 15 characters), one entry per thread. */
    private static List<String> threadNames() throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    names.add(Files.readString(t.resolve("comm")).strip());
                } catch (IOException gone) {
                    // the thread ended while listing
                }
            }
        }
        return names;
    }
}
