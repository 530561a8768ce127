package dev.canopy.serve;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.canopy.api.CanopyException;
import dev.canopy.api.Json;
import dev.canopy.api.auth.TokenVerifier;
import dev.canopy.api.auth.Tokens;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tokens of a standalone {@code canopy serve}: a JSON file of SHA-256 hashes (never the tokens), each
 * with its team, scopes and optional expiry, read at start. {@link #create} adds a token and returns it
 * (the only time it is shown). The file is written owner-only.
 */
public final class TokensFile implements TokenVerifier {
    /** One stored token. */
    public record Entry(String id, String sha256, String team, Set<Scope> scopes, Instant createdAt, Instant expiresAt) { }

    private final Map<String, Entry> byHash = new ConcurrentHashMap<>();
    private final Clock clock;

    private TokensFile(List<Entry> entries, Clock clock) {
        for (Entry e : entries) byHash.put(e.sha256(), e);
        this.clock = clock;
    }

    /** The tokens in {@code file} (none if it does not exist). */
    public static TokensFile load(Path file, Clock clock) {
        return new TokensFile(read(file), clock);
    }

    public int size() {
        return byHash.size();
    }

    @Override
    public Optional<Principal> verify(String token) {
        if (token == null || token.isBlank()) return Optional.empty();
        Entry e = byHash.get(Tokens.sha256(token.trim()));
        if (e == null || (e.expiresAt() != null && !clock.instant().isBefore(e.expiresAt()))) return Optional.empty();
        return Optional.of(new Principal(e.id(), e.team(), e.scopes(), e.expiresAt()));
    }

    /**
     * Makes a first token if {@code file} holds none, under a file lock (two servers starting together
     * make one token, not two that overwrite each other); returns it, or null if the file had tokens.
     */
    public static synchronized String ensureOne(Path file, String team, Set<Scope> scopes, Clock clock) { // the file lock is per process; this one is per thread
        Path lock = file.resolveSibling(file.getFileName() + ".lock");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(lock, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE); java.nio.channels.FileLock held = ch.lock()) {
                return read(file).isEmpty() ? create(file, team, scopes, null, clock) : null;
            }
        } catch (IOException e) {
            throw new CanopyException("auth.cannot_write_tokens", "cannot lock the tokens file " + file + ": " + e.getMessage(),
                    "check the folder's permissions", e);
        }
    }

    /** Adds a new token to {@code file} and returns it; it is not stored anywhere in clear. */
    public static String create(Path file, String team, Set<Scope> scopes, Instant expiresAt, Clock clock) {
        if (scopes.isEmpty()) throw new CanopyException("auth.no_scopes", "a token needs at least one scope", "give --scopes read,predict");
        String token = Tokens.newToken();
        List<Entry> entries = new ArrayList<>(read(file));
        entries.add(new Entry(Tokens.idOf(token), Tokens.sha256(token), team, EnumSet.copyOf(scopes), clock.instant(), expiresAt));
        write(file, entries);
        return token;
    }

    private static List<Entry> read(Path file) {
        if (!Files.exists(file)) return List.of();
        try {
            return Json.MAPPER.readValue(Files.readAllBytes(file), new TypeReference<List<Entry>>() { });
        } catch (IOException e) {
            throw new CanopyException("auth.bad_tokens_file", "cannot read the tokens file " + file + ": " + e.getMessage(),
                    "fix or remove it (a new token is then made at start)", e);
        }
    }

    private static void write(Path file, List<Entry> entries) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".tokens-", ".json");
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException notPosix) {
                // best effort on file systems without POSIX permissions
            }
            Files.write(tmp, Json.write(entries));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CanopyException("auth.cannot_write_tokens", "cannot write the tokens file " + file + ": " + e.getMessage(),
                    "check the folder's permissions", e);
        }
    }
}
