package dev.canopy.cli;

import java.nio.file.Path;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.FileAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;

/**
 * The log file of one job: everything Canopy logs at INFO and every library's warnings (Spark's
 * start-up lines, Hadoop, Netty, DJL), which the console does not show (see {@code log4j2.xml}:
 * the libraries' loggers write nowhere until a job log is attached). Attached once per command, to
 * a file in the job's folder, or in the Canopy home's {@code logs/} when the job's output is remote.
 */
final class JobLog {
    /** Loggers kept off the console; their warnings go to the job log only. */
    static final String[] QUIET = {"org.apache.spark", "org.sparkproject", "org.apache.hadoop", "org.apache.parquet", "io.netty", "ai.djl",
            "org.eclipse.jetty"};
    private static Path attached;

    private JobLog() { }

    /**
     * Makes {@code file} the log destination (idempotent per file), in place of the one before: a warm driver runs job
     * after job in one JVM, and each job's warnings belong in its own log only. Returns it.
     */
    static synchronized Path attach(Path file) {
        if (file.equals(attached)) return file;
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        Configuration config = ctx.getConfiguration();
        if (attached != null) {
            String old = "job-" + attached;
            config.getRootLogger().removeAppender(old);
            for (LoggerConfig lc : config.getLoggers().values()) lc.removeAppender(old);
            org.apache.logging.log4j.core.Appender a = config.getAppenders().get(old);
            if (a != null) a.stop();
            if (config instanceof org.apache.logging.log4j.core.config.AbstractConfiguration ac) ac.removeAppender(old); // one job's, not one per job
        }
        FileAppender appender = FileAppender.newBuilder().setName("job-" + file).withFileName(file.toString()).withAppend(true)
                .setLayout(PatternLayout.newBuilder().withPattern("%d{ISO8601} %-5level [%t] %c - %msg%n%throwable").withConfiguration(config).build())
                .setConfiguration(config).build();
        appender.start();
        config.addAppender(appender);
        config.getRootLogger().addAppender(appender, Level.WARN, null);
        LoggerConfig canopy = config.getLoggerConfig("dev.canopy");
        if (canopy.getName().equals("dev.canopy")) canopy.addAppender(appender, Level.INFO, null);
        for (String name : QUIET) {
            LoggerConfig lc = config.getLoggerConfig(name);
            if (lc.getName().equals(name)) lc.addAppender(appender, Level.WARN, null);
        }
        ctx.updateLoggers();
        attached = file;
        return file;
    }
}
