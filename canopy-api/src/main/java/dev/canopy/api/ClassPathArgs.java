package dev.canopy.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The {@code -cp} of a child JVM as an argument file ({@code @file}, Java 9+) instead of on its command line.
 *
 * <p>Why: ONNX Runtime 1.29 reads the process's command line while it creates its environment and
 * recurses over it; a command line of tens of kilobytes (a Maven or expanded {@code lib/*} classpath)
 * overflows the stack and the JVM dies with SIGSEGV and no hs_err file (measured: a 37 KB {@code -cp}
 * or {@code -D} value crashes, the same classpath in an argument file or in {@code CLASSPATH} does not).
 */
public final class ClassPathArgs {
    private ClassPathArgs() { }

    /** {@code @FILE} naming an argument file that holds {@code -cp classPath}; the file is content-addressed and reused. */
    public static String argFile(String classPath) {
        String text = "-cp \"" + classPath.replace("\\", "\\\\").replace("\"", "\\\"") + "\"\n";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "canopy-argfiles");
        Path file = dir.resolve(Digests.sha256(bytes).substring(0, 32) + ".args");
        try {
            if (!Files.isRegularFile(file)) {
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, "cp", ".tmp");
                Files.write(tmp, bytes);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the classpath argument file " + file, e);
        }
        return "@" + file;
    }
}
