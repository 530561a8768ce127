package dev.canopy.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

class UriPolicyTest {
    final UriPolicy policy = UriPolicy.of(List.of("s3://bucket/surveys/", "file:///data/"), "--allow-uris");

    @Test
    void allowsOnlyUnderThePrefixes() {
        assertThat(policy.check("s3://bucket/surveys/a/b.jpg").toString()).isEqualTo("s3://bucket/surveys/a/b.jpg");
        assertThat(policy.check("file:///data/x.png").toString()).isEqualTo("file:///data/x.png");
        assertThat(policy.check("file:/data/x.png").toString()).isEqualTo("file:///data/x.png");
        for (String bad : List.of("s3://bucket/surveys-old/a.jpg", "s3://bucket/surveys", "s3://bucket/surveys/", "s3://other/surveys/a.jpg",
                "file:///data2/x.png", "file:///etc/passwd", "file:///data/../etc/passwd", "file:///data/./x.png", "file:///data/%2e%2e/x",
                "file:///data/a%2fb", "file://host/data/x.png", "s3://user@bucket/surveys/a.jpg", "s3://bucket/surveys/a.jpg?x=1",
                "s3://bucket/surveys/a.jpg#f", "http://bucket/surveys/a.jpg", "data/x.png", "file:///data/a\\b", "not a uri",
                "file:/data/../x://nosuch", "file:/data/x/..", "file://:80/data/x", "file:data/x", "s3://bucket:9000/surveys/a.jpg",
                "file:///data/./x://y")) {
            assertThatThrownBy(() -> policy.check(bad)).as(bad).isInstanceOf(UriPolicy.Forbidden.class)
                    .hasMessageContaining("URI not allowed");
        }
    }

    @Test
    void linksLeadingOutAreRefusedTheSameWayWhetherTheTargetExistsOrNot(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path data = java.nio.file.Files.createDirectories(tmp.resolve("data"));
        java.nio.file.Path outside = java.nio.file.Files.createDirectories(tmp.resolve("outside"));
        java.nio.file.Files.writeString(outside.resolve("secret.jpg"), "x");
        java.nio.file.Files.createSymbolicLink(data.resolve("link"), outside);
        java.nio.file.Files.createSymbolicLink(data.resolve("dangling.jpg"), tmp.resolve("nowhere.jpg"));
        java.nio.file.Files.createDirectories(data.resolve("real"));
        java.nio.file.Files.createSymbolicLink(data.resolve("inside-link"), data.resolve("real"));
        UriPolicy p = UriPolicy.of(List.of(data.toUri().toString()), "--allow-uris");
        String exists = data.toUri() + "link/secret.jpg";
        String missing = data.toUri() + "link/none.jpg";
        assertThatThrownBy(() -> p.check(exists)).isInstanceOf(UriPolicy.Forbidden.class).hasMessageContaining("outside the allowed prefixes");
        assertThatThrownBy(() -> p.check(missing)).isInstanceOf(UriPolicy.Forbidden.class).hasMessageContaining("outside the allowed prefixes");
        assertThatThrownBy(() -> p.check(data.toUri() + "dangling.jpg")).isInstanceOf(UriPolicy.Forbidden.class);
        // a link that stays inside is read through its real path
        assertThat(p.check(data.toUri() + "inside-link/a.jpg")).isEqualTo(data.toRealPath().resolve("real/a.jpg").toUri());
        assertThat(p.check(data.toUri() + "new/a.jpg")).isEqualTo(data.toRealPath().resolve("new/a.jpg").toUri());
    }

    @Test
    void theRefusalNamesTheFlagAndNothingAboutTheFile() {
        assertThatThrownBy(() -> UriPolicy.none("--allow-uris").check("file:///etc/passwd")).isInstanceOf(UriPolicy.Forbidden.class)
                .satisfies(e -> assertThat(((UriPolicy.Forbidden) e).oneLine()).contains("--allow-uris").doesNotContain("exist"));
    }

    @Test
    void badPrefixesAreRefusedAtStart() {
        assertThatThrownBy(() -> UriPolicy.parse("s3:///nobucket/", "--allow-uris")).isInstanceOf(StorageException.class);
        assertThatThrownBy(() -> UriPolicy.parse("file:///data/../etc/", "--allow-uris")).isInstanceOf(StorageException.class);
        assertThatThrownBy(() -> UriPolicy.parse("ftp://x/", "--allow-uris")).isInstanceOf(StorageException.class);
        assertThat(UriPolicy.parse(" s3://b/p , /data ", "f").prefixes()).containsExactly("s3://b/p/", "file:///data/");
    }

    /** No string with a '..' segment is ever allowed, whatever surrounds it. */
    @Property(tries = 300, seed = "7")
    void dotDotNeverPasses(@ForAll @StringLength(max = 12) String a, @ForAll @StringLength(max = 12) String b) {
        String uri = "s3://bucket/surveys/" + a.replace("?", "").replace("#", "") + "/../" + b;
        try {
            policy.check(uri);
            throw new AssertionError("allowed " + uri);
        } catch (UriPolicy.Forbidden expected) {
            // refused, as it must be
        }
    }
}
