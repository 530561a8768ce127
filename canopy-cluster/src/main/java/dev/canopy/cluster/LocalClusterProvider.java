package dev.canopy.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.CanopyException;
import dev.canopy.api.JavaOpens;
import dev.canopy.api.Json;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Spark standalone clusters on this host: a Master and N Workers, each its own long-lived process
 * (they outlive the command that started them), all on 127.0.0.1 (or the address the provider is given). Everything about a cluster lives in
 * {@code ROOT/NAME/}: {@code cluster.json} (spec, ports, process ids), one log per process, the
 * workers' work folders (executor logs). The processes run Spark's own Master and Worker from the class
 * path given to the provider, linked once into {@code ROOT/.spark-home-DIGEST/jars} (one per class path), so executors get the same
 * jars.
 *
 * <p>A process id is trusted only while the process's command line still carries this cluster's
 * marker, so a recycled pid is never killed.
 */
public final class LocalClusterProvider implements ClusterProvider {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);

    private final Path root;
    private final List<Path> classPath;
    private final Clock clock;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** Recorded state of one cluster; pids are 0 when stopped. */
    record State(ClusterSpec spec, long masterPid, int masterPort, int uiPort, List<Worker> workers, Instant startedAt, String host) {
        record Worker(int index, long pid, int uiPort) { }

        /** The address the cluster's processes bind; records written before it was kept are on loopback. */
        String bindHost() {
            return host == null ? LOOPBACK : host;
        }

        State with(ClusterSpec spec, long masterPid, List<Worker> workers) {
            return new State(spec, masterPid, masterPort, uiPort, List.copyOf(workers), startedAt, host);
        }
    }

    public LocalClusterProvider(Path root, List<Path> classPath, Clock clock) {
        this(root, classPath, clock, null);
    }

    /**
     * {@code bundles} lays out a bundle (by digest) as jars for a cluster created from it (null: such clusters are
     * refused); every process of that cluster runs exactly those jars.
     */
    public LocalClusterProvider(Path root, List<Path> classPath, Clock clock, java.util.function.Function<String, List<Path>> bundles) {
        this(root, classPath, clock, bundles, LOOPBACK);
    }

    /**
     * A single address to bind: a wildcard (0.0.0.0, ::) would open every port on every network, and the workers
     * and drivers must be told one address to reach the master at.
     */
    /**
     * {@link #checkHost} without a name lookup, for records read on every status call (a resolver's hiccup must not
     * make a cluster look corrupt): the syntax, and numeric addresses (parsed without any lookup).
     */
    static String checkHostWithoutLookup(String host) {
        if (host == null || !host.matches("[A-Za-z0-9][A-Za-z0-9.\\-]{0,252}")) return checkHost(host); // refused with the message
        return host.matches("[0-9.]+") ? checkHost(host) : host;
    }

    static String checkHost(String host) {
        // IPv4 addresses and host names: an IPv6 literal would need brackets in every URL Spark makes of it
        if (host == null || !host.matches("[A-Za-z0-9][A-Za-z0-9.\\-]{0,252}")) {
            throw new CanopyException("cluster.bad_host", "the cluster address '" + host + "' is not an IPv4 address or a host name",
                    "give one IPv4 address or host name of this machine, e.g. " + LOOPBACK);
        }
        java.net.InetAddress a;
        try {
            a = java.net.InetAddress.getByName(host);
        } catch (java.net.UnknownHostException e) {
            throw new CanopyException("cluster.bad_host", "the cluster address '" + host + "' does not resolve", "give an address of this machine, e.g. " + LOOPBACK, e);
        }
        if (a.isAnyLocalAddress() || a.isMulticastAddress()) { // 0, 0.0, 00.0.0.0 ... are all the wildcard
            throw new CanopyException("cluster.bad_host", "the cluster address " + host + " would listen on every network",
                    "give the one address of this machine that the workers and drivers reach, e.g. " + LOOPBACK + " or a private network's address");
        }
        return host;
    }

    /** The address every process of this provider's clusters binds (and is reached at): 127.0.0.1 unless asked otherwise. */
    public static final String LOOPBACK = "127.0.0.1";

    /**
     * {@code host}: the address the masters and workers bind, e.g. a private network's address when workers on other
     * hosts must reach the master; by default {@value #LOOPBACK}, so that nothing listens beyond this machine.
     */
    public LocalClusterProvider(Path root, List<Path> classPath, Clock clock, java.util.function.Function<String, List<Path>> bundles, String host) {
        this.bundles = bundles;
        this.host = checkHost(host);
        try {
            Files.createDirectories(root);
            this.root = root.toRealPath(); // one spelling of the path for the process marker, whatever links lead here
        } catch (IOException e) {
            throw new CanopyException("cluster.no_root", "cannot use " + root + " for cluster records: " + e.getMessage(),
                    "check that the Canopy home is writable (--home or CANOPY_HOME)", e);
        }
        this.classPath = List.copyOf(classPath);
        this.clock = clock;
    }

    private final java.util.function.Function<String, List<Path>> bundles;
    private final String host;

    /** A provider whose clusters run this JVM's own class path (the Canopy launcher's jars, Spark's among them). */
    public static LocalClusterProvider ofThisJvm(Path root, Clock clock, java.util.function.Function<String, List<Path>> bundles) {
        List<Path> cp = Stream.of(System.getProperty("java.class.path").split(File.pathSeparator)).map(Path::of).toList();
        return new LocalClusterProvider(root, cp, clock, bundles);
    }

    public static LocalClusterProvider ofThisJvm(Path root, Clock clock) {
        List<Path> cp = Stream.of(System.getProperty("java.class.path").split(File.pathSeparator)).map(Path::of).toList();
        return new LocalClusterProvider(root, cp, clock);
    }

    @Override
    public ClusterStatus create(ClusterSpec spec) {
        Path dir = root.resolve(spec.name());
        withLock(spec.name(), true, () -> {
            if (Files.exists(dir.resolve("cluster.json"))) { // checked under the lock: two creates cannot both pass
                throw new CanopyException("cluster.exists", "a cluster named '" + spec.name() + "' already exists (" + dir + ")",
                        "pick another name, or 'canopy cluster start " + spec.name() + "' if it is stopped");
            }
            try {
                launch(spec, dir, host);
            } catch (RuntimeException e) {
                // nothing runs (launch stopped it): a retry must not find a half-made record; if something still runs, the record stays to stop it by
                if (processes(spec.name()).isEmpty()) deleteTree(dir);
                throw e;
            }
            return null;
        });
        return status(spec.name());
    }

    @Override
    public ClusterStatus start(String name) {
        ClusterSpec.checkName(name);
        withLock(name, false, () -> {
            State s = read(name);
            if (alive(name, s.masterPid())) return null;
            stopLocked(name); // workers or executors that outlived their master would be lost track of by a new record
            launch(s.spec(), root.resolve(name), s.bindHost()); // where it ran before: its users know that address
            return null;
        });
        return status(name);
    }

    /** Starts the master (on fresh ports up to three times: a port found free can be taken before Spark binds it), then the workers. */
    private void launch(ClusterSpec spec, Path dir, String host) {
        Path log = dir.resolve("master.log");
        try {
            Files.createDirectories(dir);
            writeAuth(dir, host);
            State s = null;
            for (int attempt = 1; s == null; attempt++) {
                int port = freePort(host);
                int ui = freePort(host);
                Process master = spawn(spec, dir, host, "master", List.of("org.apache.spark.deploy.master.Master", "--host", host,
                        "--port", Integer.toString(port), "--webui-port", Integer.toString(ui)));
                State tried = new State(spec, master.pid(), port, ui, List.of(), clock.instant(), host);
                write(tried); // recorded before waiting: a failed start can still be stopped
                try {
                    awaitMaster(master, "port " + port, () -> listening(host, port), log);
                    // status reads the master's web UI: ready means both answer
                    awaitMaster(master, "web UI", () -> masterJson(host, ui).isPresent(), log);
                    s = tried;
                } catch (IOException e) {
                    kill(spec.name(), master.pid());
                    if (attempt == 3 || master.isAlive()) throw e;
                }
            }
            List<Integer> indices = java.util.stream.IntStream.range(0, spec.workers()).boxed().toList();
            startWorkers(s, List.of(), indices);
        } catch (IOException e) {
            stopQuietly(spec.name());
            throw new CanopyException("cluster.start_failed", "cluster '" + spec.name() + "' did not start: " + e.getMessage(),
                    "read " + log + " (a port in use, too little memory?) and try again", e);
        } catch (RuntimeException e) {
            stopQuietly(spec.name());
            throw e;
        }
    }

    /**
     * Starts the workers {@code indices} at once, then waits until the master lists each one ALIVE (matched by its web UI
     * port, so a port another process holds cannot pass for a started worker). A worker that exits at start (with
     * {@code spark.port.maxRetries=0} a Worker whose port was taken meanwhile exits instead of moving on) is started
     * again on a fresh port, up to three times. The record gets each worker as soon as it is registered, after
     * {@code kept}. On failure or interrupt the workers not yet registered are stopped.
     *
     * @return {@code kept} and the new workers, by index
     */
    private List<State.Worker> startWorkers(State s, List<State.Worker> kept, List<Integer> indices) throws IOException {
        String name = s.spec().name();
        Path dir = root.resolve(name);
        java.util.Map<Integer, Process> pending = new java.util.TreeMap<>();
        java.util.Map<Integer, Integer> uiOf = new java.util.HashMap<>();
        java.util.Map<Integer, Integer> attempts = new java.util.HashMap<>();
        List<State.Worker> up = new ArrayList<>(kept);
        try {
            for (int i : indices) {
                Files.createDirectories(dir.resolve("worker-" + i));
                int ui = freePort(s.bindHost());
                uiOf.put(i, ui);
                attempts.put(i, 1);
                pending.put(i, spawnWorker(s, i, ui));
            }
            Instant deadline = clock.instant().plus(WORKER_START);
            while (!pending.isEmpty()) {
                java.util.Set<String> registered = registeredUiAddresses(s);
                for (State.Worker k : kept) registered.remove(s.bindHost() + ":" + k.uiPort()); // the workers already there
                for (var it = pending.entrySet().iterator(); it.hasNext(); ) {
                    var e = it.next();
                    int i = e.getKey();
                    Process p = e.getValue();
                    if (p.isAlive() && registered.contains(s.bindHost() + ":" + uiOf.get(i))) {
                        up.add(new State.Worker(i, p.pid(), uiOf.get(i)));
                        up.sort(java.util.Comparator.comparingInt(State.Worker::index));
                        it.remove();
                        write(s.with(s.spec(), s.masterPid(), up));
                    } else if (!p.isAlive()) {
                        if (attempts.get(i) == 3) {
                            throw new IOException("worker " + i + " exited at start three times; see " + dir.resolve("worker-" + i + ".log"));
                        }
                        attempts.merge(i, 1, Integer::sum);
                        int ui = freePort(s.bindHost());
                        uiOf.put(i, ui);
                        e.setValue(spawnWorker(s, i, ui));
                    }
                }
                if (pending.isEmpty()) break;
                if (!clock.instant().isBefore(deadline)) {
                    throw new IOException("worker(s) " + pending.keySet() + " did not register with the master within " + WORKER_START + "; see "
                            + dir.resolve("worker-" + pending.keySet().iterator().next() + ".log") + " and " + dir.resolve("master.log"));
                }
                Thread.sleep(200); // other processes are starting: nothing here to be notified by
            }
            return up;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while workers " + pending.keySet() + " started", e);
        } finally {
            for (Process p : pending.values()) kill(name, p.pid()); // not registered: not recorded, so stopped here
        }
    }

    private Process spawnWorker(State s, int index, int ui) throws IOException {
        Path dir = root.resolve(s.spec().name());
        String host = s.bindHost();
        return spawn(s.spec(), dir, host, "worker-" + index, List.of("org.apache.spark.deploy.worker.Worker", "--host", host,
                "--cores", Integer.toString(s.spec().workerCores()), "--memory", s.spec().workerMemory(), "--work-dir", dir.resolve("worker-" + index).toString(),
                "--webui-port", Integer.toString(ui), "spark://" + host + ":" + s.masterPort()));
    }

    /**
     * The web UI addresses ({@code host:port}) of the workers the master lists ALIVE (empty while the master does not
     * answer): a worker of another host with the same port number is not one of these.
     */
    private java.util.Set<String> registeredUiAddresses(State s) {
        java.util.Set<String> addresses = new java.util.HashSet<>();
        masterJson(s.bindHost(), s.uiPort()).ifPresent(m -> {
            for (JsonNode w : m.path("workers")) {
                if (!"ALIVE".equals(w.path("state").asText())) continue;
                try {
                    URI web = URI.create(w.path("webuiaddress").asText(""));
                    if (web.getHost() != null && web.getPort() > 0) addresses.add(web.getHost() + ":" + web.getPort());
                } catch (IllegalArgumentException notAnAddress) {
                    // an address this code does not know: that worker is not one started here
                }
            }
        });
        return addresses;
    }

    /** How long the workers started together may take to register with the master. */
    static final Duration WORKER_START = Duration.ofSeconds(90);

    @Override
    public ClusterStatus status(String name) {
        State s = read(name);
        Path dir = root.resolve(name);
        String masterUrl = "spark://" + s.bindHost() + ":" + s.masterPort();
        String ui = "http://" + s.bindHost() + ":" + s.uiPort();
        if (!alive(name, s.masterPid())) {
            return new ClusterStatus(name, ClusterStatus.STOPPED, masterUrl, ui, 0, s.spec().workers(), 0, 0, 0, 0, List.of(), Duration.ZERO,
                    dir.toString(), s.spec().bundle());
        }
        Optional<JsonNode> j = masterJson(s.bindHost(), s.uiPort());
        Duration up = Duration.between(s.startedAt(), clock.instant());
        if (j.isEmpty()) {
            return new ClusterStatus(name, ClusterStatus.BROKEN, masterUrl, ui, 0, s.spec().workers(), 0, 0, 0, 0, List.of(), up, dir.toString(), s.spec().bundle());
        }
        JsonNode m = j.get();
        int alive = 0;
        for (JsonNode w : m.path("workers")) if ("ALIVE".equals(w.path("state").asText())) alive++;
        List<String> apps = new ArrayList<>();
        for (JsonNode a : m.path("activeapps")) apps.add(a.path("id").asText() + " " + a.path("name").asText());
        return new ClusterStatus(name, ClusterStatus.RUNNING, masterUrl, ui, alive, s.spec().workers(), m.path("cores").asInt(),
                m.path("coresused").asInt(), m.path("memory").asLong(), m.path("memoryused").asLong(), apps, up, dir.toString(), s.spec().bundle());
    }

    @Override
    public List<ClusterStatus> list() {
        if (!Files.isDirectory(root)) return List.of();
        try (Stream<Path> dirs = Files.list(root)) {
            List<ClusterStatus> out = new java.util.ArrayList<>();
            for (String name : dirs.filter(d -> Files.exists(d.resolve("cluster.json"))).map(d -> d.getFileName().toString()).sorted().toList()) {
                try {
                    out.add(status(name));
                } catch (CanopyException e) {
                    if (e.code().equals("cluster.corrupt_record")) { // one bad record must not hide the others: listed as broken
                        out.add(new ClusterStatus(name, ClusterStatus.BROKEN, null, null, 0, 0, 0, 0, 0, 0, List.of(), Duration.ZERO,
                                root.resolve(name).toString(), null));
                    } else if (!e.code().equals("cluster.unknown")) { // unknown: deleted while listing, so not in the list
                        throw e;
                    }
                }
            }
            return out;
        } catch (java.nio.file.NoSuchFileException gone) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public ClusterStatus scale(String name, int workers) {
        ClusterSpec.checkName(name);
        return withLock(name, false, () -> {
            State s = read(name);
            if (!alive(name, s.masterPid())) {
                throw new CanopyException("cluster.not_running", "cluster '" + name + "' is not running", "start it: canopy cluster start " + name);
            }
            ClusterSpec spec = s.spec().withWorkers(workers); // validates the count
            List<State.Worker> kept = new ArrayList<>();
            for (State.Worker w : s.workers()) if (alive(name, w.pid())) kept.add(w); // dead workers are replaced, not counted
            try {
                int next = kept.stream().mapToInt(State.Worker::index).max().orElse(-1) + 1;
                List<Integer> indices = java.util.stream.IntStream.range(next, next + Math.max(0, workers - kept.size())).boxed().toList();
                if (!indices.isEmpty()) kept = new ArrayList<>(startWorkers(s.with(spec, s.masterPid(), kept), kept, indices));
            } catch (IOException e) {
                throw new CanopyException("cluster.scale_failed", "cannot add a worker to '" + name + "': " + e.getMessage(),
                        "read the worker logs under " + root.resolve(name), e);
            }
            // the newest workers go first; their running tasks fail and Spark runs them again on the workers that stay
            while (kept.size() > workers) {
                State.Worker w = kept.remove(kept.size() - 1);
                kill(name, w.pid());
            }
            write(s.with(spec, s.masterPid(), kept));
            return status(name);
        });
    }

    @Override
    public ClusterStatus stop(String name) {
        ClusterSpec.checkName(name);
        withLock(name, false, () -> {
            stopLocked(name);
            return null;
        });
        return status(name);
    }

    /**
     * Stops every process of the cluster, recorded or not (a worker whose start was not recorded, an executor a
     * crashed worker left behind), then checks that none is left; the caller holds the cluster's lock.
     */
    private void stopLocked(String name) {
        State s = read(name);
        for (State.Worker w : s.workers()) kill(name, w.pid()); // executors first (a worker's children), then the worker
        kill(name, s.masterPid());
        for (ProcessHandle stray : processes(name)) kill(stray);
        List<Long> left = processes(name).stream().map(ProcessHandle::pid).toList();
        if (!left.isEmpty()) {
            throw new CanopyException("cluster.stop_failed", "processes " + left + " of cluster '" + name + "' are still running",
                    "kill them (kill -9 PID) and run 'canopy cluster stop " + name + "' again");
        }
        write(s.with(s.spec(), 0, List.of()));
    }

    @Override
    public void delete(String name) {
        ClusterSpec.checkName(name);
        withLock(name, false, () -> {
            try {
                stopLocked(name);
            } catch (CanopyException e) {
                if (!e.code().equals("cluster.corrupt_record")) throw e;
                // no pids to trust: the processes carrying its marker are all there is to stop
                for (ProcessHandle stray : processes(name)) kill(stray);
                if (!processes(name).isEmpty()) throw e;
            }
            deleteTree(root.resolve(name));
            return null;
        });
    }

    /** After a failed start, inside the lock. */
    private void stopQuietly(String name) {
        try {
            if (Files.exists(root.resolve(name).resolve("cluster.json"))) stopLocked(name);
        } catch (RuntimeException ignored) {
            // the start already failed; that error is the one to report
        }
        for (ProcessHandle stray : processes(name)) kill(stray); // started before its record could be written
    }

    // --- processes ---

    private String marker(String name) {
        return "-Dcanopy.cluster=" + root.resolve(name);
    }

    /** Copies the stdout and stderr of {@code applicationId}'s executors from every worker's folder. */
    @Override
    public int collectLogs(String name, String applicationId, Path into) {
        Path dir = root.resolve(ClusterSpec.checkName(name));
        if (applicationId == null || !applicationId.matches("app-[0-9]+-[0-9]+")) return 0; // not a standalone application id: nothing to find
        int copied = 0;
        try (Stream<Path> workers = Files.list(dir)) {
            for (Path w : workers.filter(p -> p.getFileName().toString().startsWith("worker-")).sorted().toList()) {
                Path app = w.resolve(applicationId);
                if (!Files.isDirectory(app, java.nio.file.LinkOption.NOFOLLOW_LINKS)) continue;
                try (Stream<Path> files = Files.walk(app)) {
                    for (Path f : files.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList()) {
                        String n = f.getFileName().toString();
                        if (!n.equals("stdout") && !n.equals("stderr")) continue; // the logs, not the jars the worker fetched
                        Path to = into.resolve(w.getFileName().toString()).resolve(app.relativize(f).toString());
                        Files.createDirectories(to.getParent());
                        Files.copy(f, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                        copied++;
                    }
                }
            }
        } catch (java.nio.file.NoSuchFileException gone) {
            return copied;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the executor logs of " + applicationId, e);
        }
        return copied;
    }

    /**
     * The cluster's live processes: its Master and Workers (their exact marker argument) and the Spark executors its
     * Workers started (an executor's working folder lies under the cluster's folder, where its worker put it, and it
     * outlives a killed worker). Nothing else is ever counted, whatever its folder: not a shell or an editor open
     * there, and not this process or any of its ancestors.
     */
    public List<ProcessHandle> processes(String name) {
        String marker = marker(name);
        Path dir = root.resolve(name);
        java.util.Set<Long> mine = new java.util.HashSet<>();
        for (Optional<ProcessHandle> h = Optional.of(ProcessHandle.current()); h.isPresent(); h = h.get().parent()) mine.add(h.get().pid());
        Optional<String> me = ProcessHandle.current().info().user();
        return ProcessHandle.allProcesses().filter(h -> !mine.contains(h.pid())).filter(h -> h.info().user().equals(me)).filter(h -> {
            // another user's process can carry the marker (command lines are public), but it is never this cluster's
            List<String> args = h.info().arguments().map(java.util.Arrays::asList).orElse(List.of());
            if (args.contains(marker)) return true;
            if (!args.contains(EXECUTOR_MAIN)) return false;
            try {
                return Files.readSymbolicLink(Path.of("/proc", Long.toString(h.pid()), "cwd")).startsWith(dir);
            } catch (IOException | UnsupportedOperationException | SecurityException notReadable) {
                return false;
            }
        }).toList();
    }

    private static final String EXECUTOR_MAIN = "org.apache.spark.executor.CoarseGrainedExecutorBackend";

    private Process spawn(ClusterSpec spec, Path dir, String host, String role, List<String> mainAndArgs) throws IOException {
        String name = spec.name();
        Path sparkHome = sparkHome(jarsOf(spec));
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) cmd.add("/usr/bin/setsid"); // its own session: a closed terminal does not take it down
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        cmd.add(marker(name));
        cmd.add("-Dspark.port.maxRetries=0"); // the recorded port or none: Spark would otherwise move to the next port silently
        cmd.add("-Dspark.ui.killEnabled=false"); // the web UI shows; it does not stop applications
        cmd.add("-cp");
        cmd.add(sparkHome.resolve("jars") + File.separator + "*");
        cmd.add("-Djava.io.tmpdir=" + dir.resolve("tmp"));
        cmd.addAll(JavaOpens.flags());
        cmd.addAll(mainAndArgs);
        if (Files.exists(dir.resolve(AUTH_FILE))) cmd.addAll(List.of("--properties-file", dir.resolve(AUTH_FILE).toString())); // the secret stays in the file
        Files.createDirectories(dir.resolve("tmp"));
        Files.createDirectories(dir.resolve("local"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(role + ".log").toFile()));
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", host);
        // the caller's public names would change the addresses the processes announce (workers are matched by theirs)
        pb.environment().remove("SPARK_PUBLIC_DNS");
        pb.environment().remove("SPARK_LOCAL_HOSTNAME");
        pb.environment().put("SPARK_LOCAL_DIRS", dir.resolve("local").toString());
        return pb.start();
    }

    /**
     * Spark's launcher wants a SPARK_HOME with jars/: links to the provider's class path jars, one home per class path
     * (named by its digest), so a build with other dependency versions never shares a folder with an older one's jars.
     */
    /** The class path a cluster's processes run: its bundle's jars, or this provider's class path. */
    private List<Path> jarsOf(ClusterSpec spec) {
        if (spec.bundle() == null) return classPath;
        if (bundles == null) {
            throw new CanopyException("cluster.no_bundles", "cluster '" + spec.name() + "' starts from bundle " + spec.bundle() + " but no bundle store is set",
                    "run it through canopy cluster, which knows the home's bundles");
        }
        return bundles.apply(spec.bundle());
    }

    private Path sparkHome(List<Path> classPath) throws IOException {
        String digest = dev.canopy.api.Digests.sha256(classPath.stream().map(p -> p.toAbsolutePath().toString()).sorted()
                .collect(java.util.stream.Collectors.joining("\n")).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Path home = root.resolve(".spark-home-" + digest.substring(0, 16));
        Path jars = home.resolve("jars");
        Files.createDirectories(jars);
        for (Path p : classPath) {
            if (!Files.isRegularFile(p) || !p.toString().endsWith(".jar")) continue; // class folders: only tests have them
            Path link = jars.resolve(p.getFileName());
            if (Files.isSymbolicLink(link) && !Files.exists(link)) Files.delete(link); // a jar of an older build that is gone
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createSymbolicLink(link, p.toAbsolutePath());
                } catch (java.nio.file.FileAlreadyExistsException raced) {
                    // another provider linked it first
                }
            }
        }
        return home;
    }

    private boolean alive(String name, long pid) {
        if (pid <= 0) return false;
        String marker = marker(name);
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(h -> h.info().arguments().map(a -> java.util.Arrays.asList(a).contains(marker)).orElse(false)).isPresent();
    }

    private void kill(String name, long pid) {
        if (!alive(name, pid)) return;
        ProcessHandle.of(pid).ifPresent(this::kill);
    }

    /** SIGTERM to the process and its descendants (executors a worker started), SIGKILL to whatever is left after the timeout. */
    private void kill(ProcessHandle h) {
        List<ProcessHandle> children = h.descendants().toList();
        h.destroy();
        children.forEach(ProcessHandle::destroy);
        Instant deadline = clock.instant().plus(STOP_TIMEOUT);
        for (ProcessHandle p : concat(children, h)) {
            try {
                p.onExit().get(Math.max(1, Duration.between(clock.instant(), deadline).toMillis()), java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (Exception slow) {
                p.destroyForcibly();
                try {
                    p.onExit().get(STOP_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                } catch (Exception stillThere) {
                    // not ours to kill after all, or stuck in the kernel: the check after the stop names it
                }
            }
        }
    }

    private static List<ProcessHandle> concat(List<ProcessHandle> a, ProcessHandle b) {
        List<ProcessHandle> all = new ArrayList<>(a);
        all.add(b);
        return all;
    }

    /** Waits, polling, until {@code ready}; fails early if the master exits, and after {@link #START_TIMEOUT}. */
    private void awaitMaster(Process master, String what, java.util.function.BooleanSupplier ready, Path log) throws IOException {
        Instant deadline = clock.instant().plus(START_TIMEOUT);
        while (!ready.getAsBoolean()) {
            if (!master.isAlive()) throw new IOException("the Spark master exited while starting; see " + log);
            if (!clock.instant().isBefore(deadline)) throw new IOException("the Spark master's " + what + " did not answer within " + START_TIMEOUT + "; see " + log);
            try {
                Thread.sleep(100); // another process is starting: nothing here to be notified by
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while the master started", e);
            }
        }
    }

    private static boolean listening(String host, int port) {
        try (Socket s = new Socket(host, port)) {
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    private Optional<JsonNode> masterJson(String host, int uiPort) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + uiPort + "/json/")).timeout(Duration.ofSeconds(3)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? Optional.of(Json.MAPPER.readTree(r.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** A port free on {@code host} now (the address the process will bind: a port free on loopback may be taken there). */
    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return s.getLocalPort();
        }
    }

    // --- authentication ---

    /** Spark settings (the shared secret) of a cluster that listens beyond loopback; readable by this user only. */
    static final String AUTH_FILE = "spark-auth.properties";

    /**
     * A cluster that listens beyond loopback gets a new secret at each start (Spark's {@code spark.authenticate}): its
     * master, workers, executors and drivers must all present it. On loopback there is none (decided: the host's users
     * are trusted there), and an old one is removed.
     */
    private static void writeAuth(Path dir, String host) throws IOException {
        Path f = dir.resolve(AUTH_FILE);
        if (isLoopback(host)) {
            Files.deleteIfExists(f);
            return;
        }
        byte[] secret = new byte[32];
        new java.security.SecureRandom().nextBytes(secret);
        Path tmp = dir.resolve(AUTH_FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, "spark.authenticate true\nspark.authenticate.secret " + java.util.HexFormat.of().formatHex(secret) + "\n");
        Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The spellings drivers also treat as loopback (SparkSessions): any other address gets a secret, 127.0.1.1 included. */
    static boolean isLoopback(String host) {
        return host.equals(LOOPBACK) || host.equals("localhost");
    }

    @Override
    public java.util.Map<String, String> driverConf(String name) {
        read(name); // unknown names fail as everywhere else
        Path f = root.resolve(name).resolve(AUTH_FILE);
        if (!Files.exists(f)) return java.util.Map.of();
        java.util.Properties p = new java.util.Properties();
        try (var in = Files.newBufferedReader(f)) {
            p.load(in);
        } catch (IOException e) {
            throw new CanopyException("cluster.no_secret", "cannot read the secret of cluster '" + name + "': " + e.getMessage(),
                    "run as the user that created the cluster, or start it again (canopy cluster start " + name + ")", e);
        }
        java.util.Map<String, String> conf = new java.util.TreeMap<>();
        p.stringPropertyNames().forEach(k -> conf.put(k, p.getProperty(k)));
        return conf;
    }

    // --- records ---

    private State read(String name) {
        ClusterSpec.checkName(name); // the name's rules, before it becomes a path
        Path f = root.resolve(name).resolve("cluster.json");
        if (!Files.exists(f)) {
            throw new CanopyException("cluster.unknown", "no cluster named '" + name + "' under " + root, "see 'canopy cluster list', or create it");
        }
        try {
            State s = Json.MAPPER.readValue(Files.readAllBytes(f), State.class);
            if (s.host() != null) checkHostWithoutLookup(s.host()); // a record edited to listen everywhere is not followed
            return s;
        } catch (CanopyException e) {
            throw new CanopyException("cluster.corrupt_record", "cannot use " + f + ": " + e.getMessage(),
                    "stop its processes by hand if any run, then remove " + root.resolve(name), e);
        } catch (IOException e) {
            throw new CanopyException("cluster.corrupt_record", "cannot read " + f + ": " + e.getMessage(),
                    "stop its processes by hand if any run, then remove " + root.resolve(name), e);
        }
    }

    private void write(State s) {
        Path f = root.resolve(s.spec().name()).resolve("cluster.json");
        try {
            Path tmp = f.resolveSibling("cluster.json.tmp");
            Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(s));
            Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record cluster " + s.spec().name(), e);
        }
    }

    private static final java.util.concurrent.ConcurrentHashMap<Path, java.util.concurrent.locks.ReentrantLock> JVM_LOCKS = new java.util.concurrent.ConcurrentHashMap<>();
    /** How long a change waits for another change to the same cluster (a scale may take a minute) before it is refused. */
    static final Duration LOCK_WAIT = Duration.ofMinutes(3);

    /**
     * Serialises changes to one cluster: within this JVM on a lock per cluster folder (a file lock is held per JVM, so two
     * providers here would collide on it), across processes on a file lock (two CLIs scaling the same cluster). A change
     * that waits longer than {@link #LOCK_WAIT} is refused ({@code cluster.lock_failed}). Only {@code create} may lock a
     * cluster that has no record: the others would leave a folder behind for a name that does not exist.
     */
    private <T> T withLock(String name, boolean creating, java.util.function.Supplier<T> body) {
        Path dir = root.resolve(ClusterSpec.checkName(name)); // checked before it becomes a path
        if (!creating && !Files.exists(dir.resolve("cluster.json"))) read(name); // unknown: said before anything is made on disk
        java.util.concurrent.locks.ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(dir, d -> new java.util.concurrent.locks.ReentrantLock());
        Instant deadline = clock.instant().plus(LOCK_WAIT);
        try {
            if (!jvm.tryLock(LOCK_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) throw busy(name);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw busy(name);
        }
        try {
            // the lock files live apart from the clusters' folders and are never deleted: a delete must not pull a
            // lock from under a command waiting on it (it would lock a file nobody else sees)
            Path locks = Files.createDirectories(root.resolve(".locks"));
            try (FileChannel ch = FileChannel.open(locks.resolve(name + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                FileLock lock;
                while ((lock = ch.tryLock()) == null) { // another process changes it
                    if (!clock.instant().isBefore(deadline)) throw busy(name);
                    Thread.sleep(100);
                }
                try (FileLock held = lock) {
                    return body.get();
                }
            }
        } catch (IOException e) {
            throw new CanopyException("cluster.lock_failed", "cannot lock cluster '" + name + "': " + e.getMessage(),
                    "check that " + dir + " is writable", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw busy(name);
        } finally {
            jvm.unlock();
        }
    }

    private static CanopyException busy(String name) {
        return new CanopyException("cluster.lock_failed", "another change to cluster '" + name + "' has been under way for over " + LOCK_WAIT.toMinutes() + " minutes",
                "wait for it to end (canopy cluster status " + name + ") and try again");
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all.sorted(java.util.Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }
}
