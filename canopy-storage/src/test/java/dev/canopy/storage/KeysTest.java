package dev.canopy.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

class KeysTest {
    @Property
    void anyKeyWithADotDotSegmentIsRejected(@ForAll @AlphaChars @StringLength(min = 1, max = 8) String a,
                                            @ForAll @AlphaChars @StringLength(min = 1, max = 8) String b) {
        assertThatThrownBy(() -> Keys.check(a + "/../" + b)).isInstanceOf(StorageException.InvalidKey.class);
        assertThatThrownBy(() -> Keys.check("../" + a)).isInstanceOf(StorageException.InvalidKey.class);
    }

    @Property
    void acceptedKeysStayUnderTheRoot(@ForAll @StringLength(min = 1, max = 30) String key) {
        Path root = Path.of("/srv/root");
        try {
            Keys.check(key);
        } catch (StorageException.InvalidKey rejected) {
            return;
        } catch (java.nio.file.InvalidPathException e) {
            return;
        }
        try {
            assertThat(root.resolve(key).normalize().startsWith(root)).as(key).isTrue();
        } catch (java.nio.file.InvalidPathException ignored) {
            // not a valid local path at all: FileObjectStore would fail to open it
        }
    }

    @Test
    void joinSkipsEmptyParts() {
        assertThat(Keys.join("a/", "", "/b", "c")).isEqualTo("a/b/c");
    }

    @Test
    void locationsParse() {
        assertThat(ObjectStores.toUri("s3://bucket/p").getHost()).isEqualTo("bucket");
        assertThatThrownBy(() -> ObjectStores.toUri("gs://x/y")).hasMessageContaining("unsupported storage scheme");
        assertThatThrownBy(() -> ObjectStores.toUri("s3:///y")).hasMessageContaining("bucket");
    }
}
