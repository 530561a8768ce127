package dev.canopy.storage;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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
 * tells a caller whether such a path exists. URIs with {@code ..} or {@code .} segments (in the
 * decoded path), encoded dots, slashes or backslashes, a query, a fragment, user info, a port, an
 * opaque or relative form, or a {@code file} authority are refused outright (they are the ways to
 * make a string look as if it were under a prefix). For {@code file:} URIs that pass, the real path
 * (links followed) must also lie under the real path of the prefix, and the real path is what the
 * caller reads: a link inside {@code /data/} cannot lead to {@code /etc/passwd}. For a missing file the
 * deepest existing folder on its path must lie under the prefix, so the answer is the same whether a
 * file behind an outside link exists or not.
 *
 * <p>Example: with {@code --allow-uris s3://b/surveys/,file:///data/}, {@code s3://b/surveys/x.jpg}
 * and {@code file:///data/a/b.png} pass; {@code s3://b/surveys-old/x.jpg}, {@code file:///data/../etc/passwd}
 * and {@code file:///etc/passwd} are refused with {@link Forbidden}.
 *
 * <p>Not covered: a link swapped inside an allowed folder between the check and the read. Doing that
 * needs write access to the allowed folder, which already controls what is read from it.
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
                else throw badPrefix(p, "is neither s3:// nor file://", "write prefixes like s3://bucket/surveys/ or file:///data/");
            }
            URI u;
            try {
                u = new URI(s);
            } catch (java.net.URISyntaxException e) {
                throw badPrefix(p, "is not a valid URI", "write prefixes like s3://bucket/surveys/ or file:///data/");
            }
            if (u.getScheme().equals("s3") && (u.getHost() == null || u.getHost().isBlank())) {
                throw badPrefix(p, "has no bucket", "write s3://BUCKET/prefix/");
            }
            if (suspicious(s) || u.getPath() == null || hasDotSegments(u.getPath()) || u.getRawUserInfo() != null || u.getPort() != -1) {
                throw badPrefix(p, "is not a plain path", "remove '..', '.', encoded characters, queries and fragments");
            }
            if (u.getScheme().equals("file")) s = Path.of(u).toAbsolutePath().normalize().toUri().toString();
            out.add(s.endsWith("/") ? s : s + "/");
        }
        return new UriPolicy(out, false, flag);
    }

    private static StorageException badPrefix(String p, String why, String fix) {
        return new StorageException("storage.bad_prefix", "allowed prefix '" + p + "' " + why, fix, null);
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

    /** The URI to read, if allowed (for files: the real path); otherwise {@link Forbidden}. */
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
        try {
            if (u.getScheme() == null || !(u.getScheme().equals("s3") || u.getScheme().equals("file"))) {
                throw new Forbidden(s, "only s3:// and file:// URIs are read", flag, prefixes);
            }
            boolean file = u.getScheme().equals("file");
            if (u.isOpaque() || u.getPath() == null || !u.getPath().startsWith("/") || suspicious(s) || hasDotSegments(u.getPath())
                    || u.getRawUserInfo() != null || u.getPort() != -1 || (file && u.getAuthority() != null && !u.getAuthority().isEmpty())) {
                throw new Forbidden(s, "it is not a plain object path", flag, prefixes);
            }
            String normal = file ? Path.of(u).toUri().toString() : s;
            for (String p : prefixes) {
                if (normal.startsWith(p) && normal.length() > p.length()) return file ? realPathUnder(u, p) : URI.create(normal);
            }
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            throw new Forbidden(s, "it is not a plain object path", flag, prefixes);
        }
        throw new Forbidden(s, "it is outside the allowed prefixes", flag, prefixes);
    }

    private URI realPathUnder(URI u, String prefix) {
        Path file = Path.of(u);
        Path root;
        try {
            root = Path.of(URI.create(prefix)).toRealPath();
        } catch (IOException e) {
            root = Path.of(URI.create(prefix)).toAbsolutePath().normalize(); // the prefix is not there: nothing under it exists either
        }
        Path existing = file;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
        Path lexicalRoot = Path.of(URI.create(prefix)).toAbsolutePath().normalize();
        if (existing != null && lexicalRoot.startsWith(existing) && !lexicalRoot.equals(existing)) {
            return file.toUri(); // the prefix folder itself does not exist: neither does anything under it, no link is involved
        }
        try {
            Path real = existing == null ? null : existing.toRealPath();
            if (real == null || !real.startsWith(root)) throw new Forbidden(u.toString(), "it is outside the allowed prefixes", flag, prefixes);
            return (existing.equals(file) ? real : real.resolve(existing.relativize(file))).toUri();
        } catch (NoSuchFileException dangling) {
            throw new Forbidden(u.toString(), "it is outside the allowed prefixes", flag, prefixes); // a link to nowhere
        } catch (IOException e) {
            throw new Forbidden(u.toString(), "it cannot be resolved", flag, prefixes);
        }
    }

    private static boolean hasDotSegments(String path) {
        for (String seg : path.split("/", -1)) if (seg.equals("..") || seg.equals(".")) return true;
        return false;
    }

    /** Encoded or special characters that could make a URI look as if it were under a prefix. */
    static boolean suspicious(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        return l.contains("\\") || l.contains("%2e") || l.contains("%2f") || l.contains("%5c") || l.contains("%00") || l.contains("?") || l.contains("#");
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
