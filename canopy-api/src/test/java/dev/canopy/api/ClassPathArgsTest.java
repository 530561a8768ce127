package dev.canopy.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ClassPathArgsTest {
    @Test
    void aChildJvmReadsTheClassPathFromTheArgumentFileExactly() throws Exception {
        String cp = "/opt/with space/a.jar:/opt/quote\"d/b.jar:/opt/back\\slash/c.jar";
        String arg = ClassPathArgs.argFile(cp);
        assertThat(arg).startsWith("@");
        assertThat(ClassPathArgs.argFile(cp)).as("content-addressed: the same file again").isEqualTo(arg);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), arg, "-XshowSettings:properties", "-version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).isZero();
        // -XshowSettings prints a path list one entry per line: every entry arrives unchanged
        assertThat(out).contains("/opt/with space/a.jar", "/opt/quote\"d/b.jar", "/opt/back\\slash/c.jar");
        assertThat(Files.readString(Path.of(arg.substring(1)))).startsWith("-cp \"");
    }
}
