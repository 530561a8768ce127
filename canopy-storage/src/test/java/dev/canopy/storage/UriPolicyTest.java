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
                "s3://bucket/surveys/a.jpg#f", "http://bucket/surveys/a.jpg", "data/x.png", "file:///data/a\\b", "not a uri")) {
            assertThatThrownBy(() -> policy.check(bad)).as(bad).isInstanceOf(UriPolicy.Forbidden.class)
                    .hasMessageContaining("URI not allowed");
        }
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
