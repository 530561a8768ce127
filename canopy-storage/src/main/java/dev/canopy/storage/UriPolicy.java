package dev.canopy.storage;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which object URIs a long-running process may open on behalf of a caller. A URI is allowed only if
 * it lies under one of the operator's prefixes ({@code s3://bucket/surveys/}, {@code file:///data/}).
 *
 * <p>The check is lexical first and does no I/O for a URI outside every prefix, so the answer never
 * tells a caller whether such a path exists. URIs with {@code ..} or {@code .} segments, encoded dots
 * or slashes, backslashes, a query, a fragment, user info or a {@code file} host are refused outright
 * (they are the ways to make a string look as if it were under a prefix). For {@code file:} URIs that
 * pass, the real path (symbolic links followed) must also lie under the real path of an allowed
 * prefix, so a link inside {@code /data/} cannot lead to {@code /etc/passwd}.
 *
 * <p>Example: with {@code --allow-uris s3://b/surveys/,file:///data/}, {@code s3://b/surveys/x.jpg}
 * and {@code file:///data/a/b.png} pass; {@code s3://b/surveys-old/x.jpg}, {@code file:///data/../etc/passwd}
 * and {@code file:///etc/passwd} are refused with {@link Forbidden}.
 */
public final class UriPolicy {
    private final List<String> prefixes;
    private final boolean any;
    private final String flag;

    private UriPolicy(List<String> prefixes, boolean any, String flag) {
        this.prefixes = List.copyOf(prefixes);
        this.any = any;
        this.flag = flag;
    }

    /** Refuses everything: the default of a server that has not been told where data lives. */
    public static UriPolicy none(String flag) {
        return new UriPolicy(List.of(), false, flag);
    }

    /** Allows everything: only for commands the user runs on their own data (CLI jobs), never for servers. */
    public static UriPolicy trusted() {
        return new UriPolicy(List.of(), true, "");
    }

    /** Parses a comma-separated list of prefixes; {@code flag} names the option that sets it, for error messages. */
    public static UriPolicy parse(String csv, String flag) {
        List<String> list = new ArrayList<>();
        if (csv != null) for (String p : csv.split(",")) if (!p.isBlank()) list.add(p.trim());
        return of(list, flag);
    }

    public static UriPolicy of(List<String> prefixes, String flag) {
        List<String> out = new ArrayList<>();
        for (String p : prefixes) {
            String s = p.trim();
            if (!s.startsWith("s3://") && !s.startsWith("file:")) {
                if (s.startsWith("/")) s = Path.of(s).toAbsolutePath().normalize().toUri().toString();
                else throw new StorageException("storage.bad_prefix", "allowed prefix '" + p + "' is neither s3:// nor file://",
                        "write prefixes like s3://bucket/surveys/ or file:///data/", null);
            }
            URI u = URI.create(s);
            if (u.getScheme().equals("s3") && (u.getHost() == null || u.getHost().isBlank())) {
                throw new StorageException("storage.bad_prefix", "allowed prefix '" + p + "' has no bucket", "write s3://BUCKET/prefix/", null);
            }
            if (suspicious(s)) throw new StorageException("storage.bad_prefix", "allowed prefix '" + p + "' is not a plain path",
                    "remove '..', '.', encoded characters, queries and fragments", null);
            if (u.getScheme().equals("file")) s = Path.of(u).toAbsolutePath().normalize().toUri().toString();
            out.add(s.endsWith("/") ? s : s + "/");
        }
        return new UriPolicy(out, false, flag);
    }

    public List<String> prefixes() {
        return prefixes;
    }

    public boolean allowsAnything() {
        return any;
    }

    /** True if no URI at all is allowed. */
    public boolean isEmpty() {
        return !any && prefixes.isEmpty();
    }

    /** The URI, if allowed; otherwise {@link Forbidden}. Does I/O only for file URIs already under a prefix. */
    public URI check(String uri) {
        URI u;
        try {
            u = new URI(uri);
        } catch (java.net.URISyntaxException e) {
            throw new Forbidden(uri, "it is not a valid URI", flag, prefixes);
        }
        return check(u);
    }

    public URI check(URI u) {
        String s = u.toString();
        if (any) return u;
        if (u.getScheme() == null || !(u.getScheme().equals("s3") || u.getScheme().equals("file"))) {
            throw new Forbidden(s, "only s3:// and file:// URIs are read", flag, prefixes);
        }
        if (suspicious(s) || u.getRawUserInfo() != null || (u.getScheme().equals("file") && u.getHost() != null && !u.getHost().isEmpty())) {
            throw new Forbidden(s, "it is not a plain object path", flag, prefixes);
        }
        String normal = u.getScheme().equals("file") ? fileForm(u) : s;
        for (String p : prefixes) {
            if (normal.startsWith(p) && normal.length() > p.length()) {
                if (u.getScheme().equals("file")) checkRealPath(u, p);
                return URI.create(normal);
            }
        }
        throw new Forbidden(s, "it is outside the allowed prefixes", flag, prefixes);
    }

    private static String fileForm(URI u) {
        // file:/x, file:///x and file://localhost-less forms all become file:///x
        return Path.of(u).toUri().toString();
    }

    private void checkRealPath(URI u, String prefix) {
        Path file = Path.of(u);
        try {
            Path real = file.toRealPath();
            Path root = Path.of(URI.create(prefix)).toRealPath();
            if (!real.startsWith(root)) throw new Forbidden(u.toString(), "it leads outside the allowed prefixes through a link", flag, prefixes);
        } catch (NoSuchFileException missing) {
            // under the prefix and absent: the reader reports not-found, which reveals nothing outside the prefix
        } catch (IOException e) {
            throw new Forbidden(u.toString(), "it cannot be resolved", flag, prefixes);
        }
    }

    /** Lexical tricks that could make a URI look as if it were under a prefix. */
    static boolean suspicious(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        if (l.contains("\\") || l.contains("%2e") || l.contains("%2f") || l.contains("%5c") || l.contains("%00")
                || l.contains("?") || l.contains("#")) return true;
        int start = l.indexOf("://");
        String path = start < 0 ? l.substring(l.indexOf(':') + 1) : l.substring(start + 3);
        for (String seg : path.split("/", -1)) if (seg.equals("..") || seg.equals(".")) return true;
        return false;
    }

    /**
     * A URI the caller may not open. The message repeats only what the caller sent and the option that
     * widens the policy: nothing about whether the object exists.
     */
    public static final class Forbidden extends StorageException {
        public Forbidden(String uri, String why, String flag, List<String> prefixes) {
            super("storage.uri_not_allowed", "URI not allowed: " + uri + " (" + why + ")",
                    prefixes.isEmpty() ? "this server reads no URIs until its operator allows prefixes with " + flag
                            : "send URIs under " + String.join(", ", prefixes) + ", or ask the operator to add a prefix with " + flag, null);
        }
    }
}
