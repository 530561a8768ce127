package dev.canopy.control;

import dev.canopy.serve.ApiError;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.List;

/**
 * Which URLs webhooks may be sent to. A callback must be {@code http} or {@code https} with a host and no
 * credentials, and every address its host resolves to must be public: loopback, private (RFC 1918, IPv6
 * unique local), link-local (cloud metadata lives there), carrier-grade NAT, multicast and unspecified
 * addresses are refused, so that a caller cannot make the server reach into its own network, unless the
 * operator allow-lists them ({@code --allow-callback 127.0.0.1}, a CIDR block such as {@code 10.0.0.0/8},
 * or a host name). The check runs when a URL is registered and again before every delivery (the name may
 * resolve elsewhere by then).
 */
final class CallbackPolicy {
    static final int MAX_URL = 2048;
    private final List<String> allowed;

    CallbackPolicy(List<String> allowed) {
        for (String a : allowed) {
            if (a.contains("/")) parseCidr(a); // fail at start on a bad block, not at the first callback
        }
        this.allowed = List.copyOf(allowed);
    }

    /**
     * Where a delivery goes: for {@code http}, the URL with its host replaced by the address that was checked (and
     * the original {@code Host} header to send); for {@code https} the URL itself, since TLS must see the name
     * (the certificate check then refuses a name re-pointed at a host without its certificate).
     */
    record Target(URI pinned, String hostHeader) { }

    Target resolve(String url) {
        Checked ck = checked(url);
        URI u = ck.uri();
        if (!u.getScheme().equalsIgnoreCase("http")) return new Target(u, null);
        InetAddress a = ck.address();
        if (a == null) return new Target(u, null); // an allow-listed name: sent as it is
        String host = a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
        // built from the raw (still encoded) parts: URI's multi-argument constructors would encode '%' a second time
        String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
        String pinned = u.getScheme() + "://" + host + (u.getPort() < 0 ? "" : ":" + u.getPort()) + path + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
        try {
            return new Target(new URI(pinned), u.getHost() + (u.getPort() < 0 ? "" : ":" + u.getPort()));
        } catch (URISyntaxException e) {
            throw refuse(url, "it cannot be addressed by IP");
        }
    }

    /** A URL that passed, and the address it was judged by (null for an allow-listed name, sent as it is). */
    private record Checked(URI uri, InetAddress address) { }

    /** The URL if callbacks may go there, else a 400 naming the reason. */
    URI check(String url) {
        return checked(url).uri();
    }

    private Checked checked(String url) {
        if (url == null || url.isBlank()) throw refuse(url, "it is empty");
        if (url.length() > MAX_URL) throw refuse(url, "it is longer than " + MAX_URL + " characters");
        URI u;
        try {
            u = new URI(url);
        } catch (URISyntaxException e) {
            throw refuse(url, "it is not a URL (" + e.getReason() + ")");
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) throw refuse(url, "only http and https callbacks are sent");
        if (u.getHost() == null || u.getHost().isEmpty()) throw refuse(url, "it has no host");
        if (u.getRawUserInfo() != null) throw refuse(url, "it carries credentials; put them in the secret, not in the URL");
        if (u.getRawFragment() != null) throw refuse(url, "it has a #fragment, which is never sent");
        String host = u.getHost();
        String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (u.getPort() == 0 || u.getPort() > 65535) throw refuse(url, "its port is not valid");
        if (allowed.stream().anyMatch(a -> a.equalsIgnoreCase(bare))) return new Checked(u, null);
        InetAddress[] addrs;
        try {
            addrs = InetAddress.getAllByName(bare);
        } catch (UnknownHostException e) {
            throw refuse(url, "its host '" + bare + "' does not resolve");
        }
        for (InetAddress a : addrs) {
            if (isInternal(a) && !allowedAddress(a)) {
                // the address itself is not named: the answer must not map the server's network for the caller
                throw refuse(url, "its host resolves to an internal address (loopback, private or link-local); "
                        + "the operator can allow such addresses with --allow-callback");
            }
        }
        return new Checked(u, addrs[0]);
    }

    private boolean allowedAddress(InetAddress a) {
        for (String entry : allowed) {
            if (entry.contains("/")) {
                if (inCidr(a, entry)) return true;
            } else if (entry.equals(a.getHostAddress()) || literalEquals(entry, a)) {
                return true;
            }
        }
        return false;
    }

    private static boolean literalEquals(String entry, InetAddress a) {
        if (!entry.matches("[0-9a-fA-F:.]+")) return false;
        try {
            return InetAddress.getByName(entry).equals(a);
        } catch (UnknownHostException e) {
            return false;
        }
    }

    static boolean isInternal(InetAddress a) {
        if (a.isLoopbackAddress() || a.isSiteLocalAddress() || a.isLinkLocalAddress() || a.isAnyLocalAddress() || a.isMulticastAddress()) return true;
        byte[] b = a.getAddress();
        if (a instanceof Inet4Address) {
            int b0 = b[0] & 0xff, b1 = b[1] & 0xff;
            return b0 == 0 || (b0 == 100 && b1 >= 64 && b1 <= 127) || (b0 == 192 && b1 == 0 && (b[2] & 0xff) == 0) || b0 >= 240
                    || (b0 == 198 && (b1 == 18 || b1 == 19));
        }
        if (a instanceof Inet6Address) {
            if ((b[0] & 0xfe) == 0xfc) return true; // unique local fc00::/7
            if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) return embeddedV4(b, 2); // 6to4 2002::/16 carries an IPv4 address
            if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x01 && b[2] == 0 && b[3] == 0) return true; // Teredo 2001::/32
            if ((b[0] & 0xff) == 0x00 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b) {
                boolean wellKnown = true; // 64:ff9b::/96 carries the IPv4 address last; the local-use 64:ff9b:1::/48 (RFC 8215) is internal
                for (int i = 4; i < 12; i++) wellKnown &= b[i] == 0;
                return !wellKnown || embeddedV4(b, 12);
            }
            boolean compatible = true; // ::a.b.c.d (IPv4-compatible, deprecated but still routed by some stacks)
            for (int i = 0; i < 12; i++) compatible &= b[i] == 0;
            if (compatible) return embeddedV4(b, 12);
            boolean mapped = true; // ::ffff:a.b.c.d: judge the IPv4 address inside
            for (int i = 0; i < 10; i++) mapped &= b[i] == 0;
            mapped &= (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
            if (mapped) {
                try {
                    return isInternal(InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, 12, 16)));
                } catch (UnknownHostException e) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean embeddedV4(byte[] b, int from) {
        try {
            return isInternal(InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, from, from + 4)));
        } catch (UnknownHostException e) {
            return true;
        }
    }

    private static boolean inCidr(InetAddress a, String cidr) {
        Object[] c = parseCidr(cidr);
        byte[] net = (byte[]) c[0];
        int bits = (Integer) c[1];
        byte[] x = a.getAddress();
        if (x.length != net.length) return false;
        for (int i = 0; i < bits; i++) {
            int mask = 0x80 >> (i % 8);
            if ((x[i / 8] & mask) != (net[i / 8] & mask)) return false;
        }
        return true;
    }

    private static Object[] parseCidr(String cidr) {
        String[] p = cidr.split("/", 2);
        try {
            if (!p[0].matches("[0-9a-fA-F:.]+")) throw new IllegalArgumentException();
            byte[] net = InetAddress.getByName(p[0]).getAddress();
            int bits = Integer.parseInt(p[1]);
            if (bits < 0 || bits > net.length * 8) throw new IllegalArgumentException();
            return new Object[] {net, bits};
        } catch (IllegalArgumentException | UnknownHostException e) {
            throw new dev.canopy.api.CanopyException("server.bad_allow_callback", "'" + cidr + "' is not an address block",
                    "write --allow-callback as an address (127.0.0.1), a block (10.0.0.0/8) or a host name");
        }
    }

    private static ApiError refuse(String url, String why) {
        return new ApiError(400, "callback_refused", "callback URL '" + Page.abbreviate(String.valueOf(url)) + "' is refused: " + why);
    }
}
