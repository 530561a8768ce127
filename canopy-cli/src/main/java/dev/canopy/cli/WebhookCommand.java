package dev.canopy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.client.CanopyClient;
import dev.canopy.client.WebhookListener;
import dev.canopy.client.WebhookVerifier;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code canopy webhook listen|verify}: receive and check the control plane's signed webhooks. */
@Command(name = "webhook", mixinStandardHelpOptions = true, description = "Receive (listen) and check (verify) Canopy's Standard Webhooks.",
        subcommands = {WebhookCommand.Listen.class, WebhookCommand.Verify.class})
final class WebhookCommand {
    @Command(name = "listen", mixinStandardHelpOptions = true,
            description = "A small receiver on 127.0.0.1: verifies each delivery's signature, drops repeats of a webhook-id and prints the events. "
                    + "--subscribe registers it with the server for the token's team (and removes the subscription on exit).")
    static final class Listen implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Mixin
        ServerOptions server;
        @Option(names = "--port", defaultValue = "9000", description = "Port (default: ${DEFAULT-VALUE})")
        int port;
        @Option(names = "--secret", description = "The whsec_ secret to verify with (not needed with --subscribe)")
        String secret;
        @Option(names = "--subscribe", description = "Subscribe http://127.0.0.1:PORT/ to --events with the server (it must allow the callback: "
                + "canopy server --allow-callback 127.0.0.1)")
        boolean subscribe;
        @Option(names = "--events", split = ",", description = "Event types to subscribe to (default: all)")
        List<String> events = new ArrayList<>();
        @Option(names = "--count", defaultValue = "0", description = "Exit after this many events (default: run until Ctrl-C)")
        int count;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            String id = null;
            CanopyClient client = null;
            if (subscribe) {
                client = server.client();
                JsonNode s = client.subscribe("http://127.0.0.1:" + port + "/", events);
                id = s.get("id").asText();
                secret = s.get("secret").asText();
                out.printf("subscribed  %s for %s%n", id, s.get("event_types"));
            }
            if (secret == null) throw new UsageException("no secret to verify with", "give --secret whsec_..., or --subscribe");
            // --count 0: until Ctrl-C (the latch is never counted down)
            CountDownLatch done = new CountDownLatch(count > 0 ? count : 1);
            boolean counting = count > 0;
            try (WebhookListener l = WebhookListener.start("127.0.0.1", port, secret, e -> {
                synchronized (out) {
                    out.printf("%s  %s  %s%n", e.id(), e.type(), e.data());
                    out.flush();
                }
                if (counting) done.countDown();
                return 204;
            })) {
                out.printf("listening   http://127.0.0.1:%d/ (signatures checked; Ctrl-C to stop)%n", l.port());
                out.flush();
                String subId = id;
                CanopyClient c = client;
                if (subId != null) {
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                        try {
                            c.deleteWebhook(subId);
                        } catch (RuntimeException ignored) {
                            // the server may be gone already
                        }
                    }));
                }
                done.await();
                if (subId != null && count > 0) c.deleteWebhook(subId);
            }
            return 0;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check a saved delivery: exit 0 and print the event when the signature is the secret holder's and fresh, else exit 1.")
    static final class Verify implements Callable<Integer> {
        @Spec
        picocli.CommandLine.Model.CommandSpec spec;
        @Option(names = "--secret", required = true, description = "The whsec_ secret")
        String secret;
        @Option(names = "--body", required = true, description = "File holding the request body, byte for byte")
        Path body;
        @Option(names = "--header", required = true, description = "webhook-id=..., webhook-timestamp=..., webhook-signature=... (repeat)")
        List<String> headers;

        @Override
        public Integer call() throws Exception {
            Map<String, List<String>> h = new LinkedHashMap<>();
            for (String kv : headers) {
                int i = kv.indexOf('=');
                if (i <= 0) throw new UsageException("--header '" + kv + "' is not NAME=VALUE", "write e.g. --header webhook-id=msg_...");
                h.computeIfAbsent(kv.substring(0, i).trim().toLowerCase(java.util.Locale.ROOT), k -> new ArrayList<>()).add(kv.substring(i + 1).trim());
            }
            if (!Files.isRegularFile(body)) throw new UsageException("body file not found: " + body, "save the request body to a file");
            try {
                WebhookVerifier.Event e = new WebhookVerifier(secret).verify(Files.readString(body), h);
                spec.commandLine().getOut().printf("valid       %s %s%n", e.id(), e.type());
                return 0;
            } catch (WebhookVerifier.Invalid bad) {
                spec.commandLine().getErr().println("canopy: " + bad.getMessage());
                return 1;
            } catch (IllegalArgumentException bad) {
                throw new UsageException(bad.getMessage(), "give the subscription's whsec_ secret");
            }
        }
    }
}
