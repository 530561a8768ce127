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
    @Property(seed = "42")
    void anyKeyWithADotDotSegmentIsRejected(@ForAll @AlphaChars @StringLength(min = 1, max = 8) String a,
                                            @ForAll @AlphaChars @StringLength(min = 1, max = 8) String b) {
        assertThatThrownBy(() -> Keys.check(a + "/../" + b)).isInstanceOf(StorageException.InvalidKey.class);
        assertThatThrownBy(() -> Keys.check("../" + a)).isInstanceOf(StorageException.InvalidKey.class);
    }

    @Property(seed = "42")
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

    /** Each refusal names its reason; keys at the edges of the rules pass. */
    @Test
    void everyRuleRefusesWithItsReasonAndTheEdgesPass() {
        String[][] bad = {{"", "empty key"}, {"/etc/passwd", "absolute paths"}, {"a\\b", "backslashes"}, {"a\u0000b", "NUL"},
                {"c:/x", "drive-letter"}, {"C:x", "drive-letter"}, {"a/../b", "'..'"}, {"..", "'..'"}, {"a/./b", "'.'"}, {".", "'.'"},
                {"a//b", "empty path segment"}, {"x".repeat(Keys.MAX_KEY_LENGTH + 1), "longer than 1024"}};
        for (String[] b : bad) {
            assertThatThrownBy(() -> Keys.check(b[0])).as(b[0].length() > 40 ? "long key" : b[0]).isInstanceOf(StorageException.InvalidKey.class)
                    .hasMessageContaining(b[1]);
        }
        assertThatThrownBy(() -> Keys.check(null)).isInstanceOf(StorageException.InvalidKey.class).hasMessageContaining("empty key");
        // a long key's message shows its first 40 characters only
        assertThatThrownBy(() -> Keys.check("y".repeat(2000))).hasMessageContaining("y".repeat(40) + "...").hasMessageNotContaining("y".repeat(41));
        for (String ok : new String[] {"a", "x".repeat(Keys.MAX_KEY_LENGTH), "a/b.c/d", "..a/b..", "a./.b", "1:x", "ab:c", "tiles/r00001c00002.jpg"}) {
            assertThat(Keys.check(ok)).isEqualTo(ok);
        }
    }

    @Test
    void prefixesMayBeEmptyOrEndWithASlash() {
        assertThat(Keys.checkPrefix(null)).isEmpty();
        assertThat(Keys.checkPrefix("")).isEmpty();
        assertThat(Keys.checkPrefix("shards/")).isEqualTo("shards/");
        assertThat(Keys.checkPrefix("shards/part-")).isEqualTo("shards/part-");
        assertThatThrownBy(() -> Keys.checkPrefix("../")).isInstanceOf(StorageException.InvalidKey.class);
        assertThatThrownBy(() -> Keys.checkPrefix("/abs/")).isInstanceOf(StorageException.InvalidKey.class);
    }

    @Test
    void joinSkipsEmptyParts() {
        assertThat(Keys.join("a/", "", "/b", "c")).isEqualTo("a/b/c");
        assertThat(Keys.join(null, "//a//", "/", "b")).isEqualTo("a/b");
        assertThat(Keys.join()).isEmpty();
        assertThat(Keys.join("only")).isEqualTo("only");
    }

    @Test
    void locationsParse() {
        assertThat(ObjectStores.toUri("s3://bucket/p").getHost()).isEqualTo("bucket");
        assertThatThrownBy(() -> ObjectStores.toUri("gs://x/y")).hasMessageContaining("unsupported storage scheme");
        assertThatThrownBy(() -> ObjectStores.toUri("s3:///y")).hasMessageContaining("bucket");
    }
}
