package dev.canopy.control;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a job's driver process: the same launcher the server runs on ({@code java} of
 * this JVM, this JVM's class path, Canopy's CLI main class), so a job runs exactly the code the server
 * was started with. {@code -Dcanopy.job=ID} marks the process so that a restarted server recognises
 * its drivers among the host's processes.
 *
 * @param javaOptions options before the class path (heap size, ...)
 * @param master      the Spark master for the drivers ({@code null}: local[*])
 */
public record DriverCommand(String java, List<String> javaOptions, String classPath, String mainClass, String master) {
    public static final String MAIN = "dev.canopy.cli.Main";
    public static final String JOB_MARK = "-Dcanopy.job=";
    /** What Spark and Netty need opened on Java 17, as the launcher passes them. */
    static final List<String> OPENS = List.of("java.base/java.lang", "java.base/java.lang.invoke", "java.base/java.lang.reflect",
            "java.base/java.io", "java.base/java.net", "java.base/java.nio", "java.base/java.util", "java.base/java.util.concurrent",
            "java.base/java.util.concurrent.atomic", "java.base/jdk.internal.ref", "java.base/sun.nio.ch", "java.base/sun.nio.cs",
            "java.base/sun.security.action", "java.base/sun.util.calendar", "java.security.jgss/sun.security.krb5");

    public static DriverCommand sameJvm(List<String> javaOptions, String master) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new DriverCommand(java, List.copyOf(javaOptions), System.getProperty("java.class.path"), MAIN, master);
    }

    public DriverCommand withMaster(String m) {
        return new DriverCommand(java, javaOptions, classPath, mainClass, m);
    }

    /** The full command for job {@code jobId} running Canopy's CLI with {@code args} against {@code home}. */
    public List<String> command(String jobId, Path home, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(javaOptions);
        for (String p : OPENS) cmd.add("--add-opens=" + p + "=ALL-UNNAMED");
        cmd.addAll(List.of("-Djdk.reflect.useDirectMethodHandle=false", "-Dio.netty.tryReflectionSetAccessible=true", "-Dai.djl.offline=true",
                JOB_MARK + jobId, dev.canopy.api.ClassPathArgs.argFile(classPath), mainClass, "--home", home.toString(), "--no-progress"));
        cmd.addAll(args);
        // a command that names its cluster (a job for a cluster, a warm driver) runs there, not on the server's --master
        if (master != null && !args.contains("--cluster") && !(!args.isEmpty() && args.get(0).equals("cluster"))) cmd.addAll(List.of("--master", master));
        return cmd;
    }
}
