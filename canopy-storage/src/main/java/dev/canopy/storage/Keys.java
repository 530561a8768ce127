package dev.canopy.storage;

/** Validation of object keys, shared by every store so that file and S3 refuse the same keys. */
public final class Keys {
    public static final int MAX_KEY_LENGTH = 1024;

    private Keys() { }

    /** Returns the key if it stays inside the store's root, else throws {@link StorageException.InvalidKey}. */
    public static String check(String key) {
        if (key == null || key.isEmpty()) throw new StorageException.InvalidKey(String.valueOf(key), "empty key");
        if (key.length() > MAX_KEY_LENGTH) throw new StorageException.InvalidKey(key.substring(0, 40) + "...", "longer than " + MAX_KEY_LENGTH);
        if (key.startsWith("/")) throw new StorageException.InvalidKey(key, "absolute paths escape the store root");
        if (key.indexOf('\\') >= 0) throw new StorageException.InvalidKey(key, "backslashes are not allowed");
        if (key.indexOf('\0') >= 0) throw new StorageException.InvalidKey(key, "NUL characters are not allowed");
        if (key.length() > 1 && key.charAt(1) == ':' && Character.isLetter(key.charAt(0))) {
            throw new StorageException.InvalidKey(key, "drive-letter paths escape the store root");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.equals("..")) throw new StorageException.InvalidKey(key, "'..' escapes the store root");
            if (segment.equals(".")) throw new StorageException.InvalidKey(key, "'.' segments are not allowed");
        }
        if (key.contains("//")) throw new StorageException.InvalidKey(key, "empty path segment");
        return key;
    }

    /** A prefix may be empty (list everything) but otherwise follows the key rules. */
    public static String checkPrefix(String prefix) {
        if (prefix == null || prefix.isEmpty()) return "";
        String probe = prefix.endsWith("/") ? prefix + "x" : prefix;
        check(probe);
        return prefix;
    }

    /** Joins key parts with '/', skipping empty parts. */
    public static String join(String... parts) {
        StringBuilder b = new StringBuilder();
        for (String p : parts) {
            if (p == null || p.isEmpty()) continue;
            String t = p;
            while (t.startsWith("/")) t = t.substring(1);
            while (t.endsWith("/")) t = t.substring(0, t.length() - 1);
            if (t.isEmpty()) continue;
            if (b.length() > 0) b.append('/');
            b.append(t);
        }
        return b.toString();
    }
}
