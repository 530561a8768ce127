package dev.canopy.cli;

import dev.canopy.client.CanopyClient;
import java.net.URI;
import picocli.CommandLine.Option;

/** Where the control plane is and the token to use: {@code --server}/{@code CANOPY_SERVER}, {@code CANOPY_TOKEN}. */
final class ServerOptions {
    static final String DEFAULT_SERVER = "http://127.0.0.1:8790";

    @Option(names = "--server", description = "Control plane URL (default: $CANOPY_SERVER, else " + DEFAULT_SERVER + ")")
    String server;
    @Option(names = "--token-file", description = "A file holding the bearer token (default: $CANOPY_TOKEN)")
    java.nio.file.Path tokenFile;

    CanopyClient client() {
        String url = server != null ? server : System.getenv().getOrDefault("CANOPY_SERVER", DEFAULT_SERVER);
        String token;
        if (tokenFile != null) {
            try {
                token = java.nio.file.Files.readString(tokenFile).trim();
            } catch (java.io.IOException e) {
                throw new UsageException("cannot read the token file " + tokenFile + ": " + e.getMessage(), "give a file holding the token");
            }
        } else {
            token = System.getenv("CANOPY_TOKEN");
        }
        if (token == null || token.isBlank()) {
            throw new UsageException("no token: the control plane needs one", "export CANOPY_TOKEN=$(canopy token create --team TEAM --scopes read,predict))");
        }
        URI u;
        try {
            u = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--server '" + url + "' is not a URL", "write e.g. " + DEFAULT_SERVER);
        }
        if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https")) || u.getHost() == null) {
            throw new UsageException("--server '" + url + "' is not an http(s) URL", "write e.g. " + DEFAULT_SERVER);
        }
        return new CanopyClient(u, token.trim());
    }
}
