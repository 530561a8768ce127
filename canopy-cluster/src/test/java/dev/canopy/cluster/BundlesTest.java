package dev.canopy.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.api.CanopyException;
import dev.canopy.storage.FileObjectStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bundles are content-addressed and checked: the same content is the same digest, and a manifest or jar changed in the store is refused. */
class BundlesTest {
    @TempDir
    Path tmp;

    Bundles bundles() {
        return new Bundles(new FileObjectStore(tmp.resolve("store")), tmp.resolve("cache"), Clock.systemUTC());
    }

    List<Path> classPath(String content) throws Exception {
        Path a = tmp.resolve("lib/a.jar"), b = tmp.resolve("lib/b.jar");
        Files.createDirectories(a.getParent());
        Files.writeString(a, "jar a " + content);
        Files.writeString(b, "jar b");
        Path classes = tmp.resolve("mod/target/classes");
        Files.createDirectories(classes.resolve("dev/x"));
        Files.writeString(classes.resolve("dev/x/A.class"), "bytes");
        return List.of(a, b, classes, tmp.resolve("missing.jar"));
    }

    @Test
    void theSameContentIsTheSameBundleAndEachJarIsStoredOnce() throws Exception {
        Bundles.Bundle one = bundles().build(classPath("1"), Map.of("k", "v"), "test");
        assertThat(one.jars()).extracting(Bundles.Jar::name).containsExactly("a.jar", "b.jar", "mod-classes.jar");
        Files.setLastModifiedTime(tmp.resolve("mod/target/classes/dev/x/A.class"), java.nio.file.attribute.FileTime.fromMillis(0));
        Bundles.Bundle again = bundles().build(classPath("1"), Map.of("k", "v"), "test");
        assertThat(again.digest()).as("a class folder's jar depends on its content, not its times").isEqualTo(one.digest());
        Bundles.Bundle other = bundles().build(classPath("2"), Map.of("k", "v"), "test");
        assertThat(other.digest()).isNotEqualTo(one.digest());
        try (var blobs = Files.list(tmp.resolve("store/blobs"))) {
            assertThat(blobs.count()).as("b.jar and the class folder shared").isEqualTo(4);
        }
        assertThat(bundles().materialize(one)).extracting(p -> p.getFileName().toString()).containsExactly("a.jar", "b.jar", "mod-classes.jar");
    }

    @Test
    void aTagNamesOneBundleAtATime() throws Exception {
        Bundles.Bundle one = bundles().build(classPath("1"), Map.of(), "test");
        Bundles.Bundle two = bundles().build(classPath("2"), Map.of(), "test");
        bundles().tag(one.digest(), "production");
        bundles().tag(two.digest(), "production");
        assertThat(bundles().require("production").digest()).isEqualTo(two.digest());
        assertThat(bundles().require(one.digest()).tags()).isEmpty();
        assertThatThrownBy(() -> bundles().tag(one.digest(), "Bad Tag")).isInstanceOf(CanopyException.class).hasMessageContaining("not allowed");
        assertThatThrownBy(() -> bundles().status(one.digest(), "great")).hasMessageContaining("not one of");
    }

    @Test
    void aManifestChangedInTheStoreIsRefusedEvenWithAHarmlessLookingName() throws Exception {
        Bundles.Bundle one = bundles().build(classPath("1"), Map.of(), "test");
        Path manifest = tmp.resolve("store/bundles/" + one.digest() + ".json");
        String json = Files.readString(manifest);
        Files.writeString(manifest, json.replace("\"a.jar\"", "\"../../../evil.jar\""), StandardCharsets.UTF_8);
        assertThatThrownBy(() -> bundles().require(one.digest())).isInstanceOf(CanopyException.class).hasMessageContaining("does not match its digest");
        assertThat(bundles().list()).as("one bad manifest hides only itself").isEmpty();
        assertThat(tmp.resolve("evil.jar")).doesNotExist();
        Bundles.Bundle forged = new Bundles.Bundle(one.digest(), one.createdAt(), one.source(),
                List.of(new Bundles.Jar("../../../evil.jar", one.jars().get(0).sha256(), one.jars().get(0).size())), one.config(), one.status(), one.tags());
        assertThatThrownBy(() -> bundles().materialize(forged)).as("a manifest object changed in memory is checked too").isInstanceOf(CanopyException.class);
        assertThat(tmp.resolve("evil.jar")).doesNotExist();
    }

    @Test
    void aJarChangedInTheStoreIsRefusedWhenLaidOut() throws Exception {
        Bundles.Bundle one = bundles().build(classPath("1"), Map.of(), "test");
        Bundles.Jar a = one.jars().get(0);
        Path blob = tmp.resolve("store/blobs/" + a.sha256());
        Files.writeString(blob, "JAR A 1"); // same size, other bytes
        assertThatThrownBy(() -> bundles().materialize(one)).isInstanceOf(CanopyException.class).hasMessageContaining("does not match its SHA-256");
    }
}
