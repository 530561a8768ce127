package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.canopy.client.CanopyClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code canopy server} as users run it, in a process of its own on the embedded database of {@code home}: started,
 * its port read from its first lines, its output kept (a thread drains it). The caller kills it.
 */
record ServerProcess(Process process, int port, List<String> lines) {
    CanopyClient client(String token) {
        return new CanopyClient(URI.create(base()), token);
    }

    String base() {
        return "http://127.0.0.1:" + port;
    }

    static ServerProcess start(Path home, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "-Dai.djl.offline=true", dev.canopy.api.ClassPathArgs.argFile(System.getProperty("java.class.path")), Main.class.getName(), "--no-progress", "--home", home.toString(),
                "server", "--port", "0", "--allow-callback", "127.0.0.1", "--lease-s", "3", "--driver-heap", "768m"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream()));
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        int port = -1;
        for (String line; (line = in.readLine()) != null; ) {
            lines.add(line);
            Matcher m = Pattern.compile("^canopy server on http://[^:]+:(\\d+) ").matcher(line);
            if (m.find()) port = Integer.parseInt(m.group(1));
            if (line.startsWith("tokens ")) break;
        }
        assertThat(port).as(String.join("\n", lines)).isPositive();
        Thread drain = new Thread(() -> {
            try {
                for (String line; (line = in.readLine()) != null; ) lines.add(line);
            } catch (java.io.IOException ended) {
                // the server exited
            }
        });
        drain.setDaemon(true);
        drain.start();
        return new ServerProcess(p, port, lines);
    }

    /** Processes whose command line names {@code dir}: the drivers, warm drivers and cluster processes a test left. */
    static java.util.List<ProcessHandle> processesUnder(Path dir) {
        String d = dir.toString();
        // the folder itself or something in it, not another folder whose name starts the same (/tmp/junit-12 vs /tmp/junit-123)
        return ProcessHandle.allProcesses().filter(h -> h.info().arguments().map(a -> {
            String cmd = String.join(" ", a) + " ";
            return cmd.contains(d + "/") || cmd.contains(d + " ");
        }).orElse(false)).toList();
    }

    /** Kills (SIGKILL) every process whose command line names {@code dir} and waits for each to exit. */
    static void killAllUnder(Path dir) {
        for (ProcessHandle h : processesUnder(dir)) {
            h.destroyForcibly();
            h.onExit().join();
        }
    }
}
