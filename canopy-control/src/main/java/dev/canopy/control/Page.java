package dev.canopy.control;

import dev.canopy.serve.ApiError;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * One page of a list and the cursor to the next. Cursors are opaque to clients: the base64url of the
 * last row's sequence number, so a page never repeats or skips rows that were there when it was read.
 */
record Page<T>(List<T> items, String nextCursor) {
    static final int DEFAULT_LIMIT = 50;
    static final int MAX_LIMIT = 500;

    /** {@code rows} were read with {@code limit + 1}: the extra row only says that there is a next page. */
    static <T> Page<T> of(List<T> rows, int limit, ToLongFunction<T> seq) {
        if (rows.size() <= limit) return new Page<>(rows, null);
        List<T> items = rows.subList(0, limit);
        return new Page<>(List.copyOf(items), encode(seq.applyAsLong(items.get(limit - 1))));
    }

    static String encode(long seq) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(("s" + seq).getBytes(StandardCharsets.US_ASCII));
    }

    /** The sequence number after which the page starts (0 for the first page). */
    static long after(String cursor) {
        if (cursor == null || cursor.isEmpty()) return 0;
        try {
            String s = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (s.startsWith("s") && s.length() < 21) {
                long v = Long.parseLong(s.substring(1));
                if (v >= 0) return v;
            }
        } catch (IllegalArgumentException bad) {
            // fall through to the error below
        }
        throw new ApiError(400, "bad_cursor", "cursor '" + abbreviate(cursor) + "' is not one this server handed out; "
                + "pass next_cursor from the previous page unchanged, or none for the first page");
    }

    static int limit(String value) {
        return limit(value, MAX_LIMIT);
    }

    /** A page size from 1 to {@code max} ({@link #DEFAULT_LIMIT} when absent). */
    static int limit(String value, int max) {
        if (value == null || value.isEmpty()) return DEFAULT_LIMIT;
        try {
            int n = Integer.parseInt(value);
            if (n >= 1 && n <= max) return n;
        } catch (NumberFormatException bad) {
            // fall through
        }
        throw new ApiError(400, "bad_limit", "limit '" + abbreviate(value) + "' must be a whole number from 1 to " + max);
    }

    static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    Map<String, Object> toJson(java.util.function.Function<T, Object> view) {
        java.util.LinkedHashMap<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("items", items.stream().map(view).toList());
        m.put("next_cursor", nextCursor);
        return m;
    }
}
