package dev.canopy.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.canopy.serve.ApiError;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Cursor pagination and the id shapes the API hands out. */
class PageTest {
    @Test
    void aCursorRoundTripsAndOnlyAFullPageHasOne() {
        assertThat(Page.after(Page.encode(42))).isEqualTo(42);
        assertThat(Page.after(null)).isZero();
        assertThat(Page.after("")).isZero();
        Page<Long> full = Page.of(List.of(9L, 8L, 7L, 6L), 3, x -> x);
        assertThat(full.items()).containsExactly(9L, 8L, 7L);
        assertThat(Page.after(full.nextCursor())).isEqualTo(7);
        Page<Long> last = Page.of(List.of(2L, 1L), 3, x -> x);
        assertThat(last.nextCursor()).isNull();
        assertThat(Page.of(List.of(3L, 2L, 1L), 3, x -> x).nextCursor()).as("exactly a page: nothing follows").isNull();
    }

    @Test
    void badCursorsAndLimitsAreRefusedWithTheFix() {
        for (String bad : List.of("zzz", "czE=x", Page.encode(1).replace("cz", "dz"), "%%", java.util.Base64.getUrlEncoder().encodeToString("s-1".getBytes()),
                java.util.Base64.getUrlEncoder().encodeToString("s12345678901234567890".getBytes()))) {
            assertThatThrownBy(() -> Page.after(bad)).as(bad).isInstanceOf(ApiError.class).hasMessageContaining("next_cursor");
        }
        assertThat(Page.limit(null)).isEqualTo(Page.DEFAULT_LIMIT);
        assertThat(Page.limit("1")).isEqualTo(1);
        assertThat(Page.limit("500")).isEqualTo(500);
        for (String bad : List.of("0", "501", "-1", "ten", "1.5")) {
            assertThatThrownBy(() -> Page.limit(bad)).as(bad).isInstanceOf(ApiError.class).hasMessageContaining("1 to 500");
        }
        assertThat(Page.abbreviate("x".repeat(100))).hasSize(43);
    }

    @Test
    void idsHaveOneShape() {
        String id = Ids.next("job");
        assertThat(Ids.looksLike("job", id)).isTrue();
        assertThat(Ids.looksLike("whk", id)).isFalse();
        assertThat(Ids.looksLike("job", "job_0123456789abcdeF")).isFalse();
        assertThat(Ids.looksLike("job", "job_0123456789abcde")).isFalse();
        assertThat(Ids.looksLike("job", "job_../../etc/passwd")).isFalse();
        assertThat(Ids.looksLike("job", null)).isFalse();
    }
}
