package dev.canopy.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CanopyHomeTest {
    @TempDir
    Path tmp;

    @Test
    void explicitBeatsEnvironmentBeatsDefault() {
        assertThat(CanopyHome.resolve(tmp, Map.of("CANOPY_HOME", "/elsewhere")).root()).isEqualTo(tmp);
        assertThat(CanopyHome.resolve(null, Map.of("CANOPY_HOME", tmp.toString())).root()).isEqualTo(tmp);
        assertThat(CanopyHome.resolve(null, Map.of()).root()).isEqualTo(Path.of("canopy-data").toAbsolutePath());
    }

    @Test
    void subFoldersAreCreated() {
        CanopyHome h = new CanopyHome(tmp);
        assertThat(h.registry()).isDirectory().startsWith(tmp);
        assertThat(h.surveys()).isDirectory();
    }
}
