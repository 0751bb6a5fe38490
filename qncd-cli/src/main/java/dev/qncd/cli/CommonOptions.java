package dev.qncd.cli;

import ch.qos.logback.classic.Level;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** Options every command shares: log verbosity. Mixed into each command with {@code @Mixin}. */
public final class CommonOptions {
    @Option(names = {"-v", "--verbose"}, description = "Log debug messages.")
    void setVerbose(boolean verbose) {
        if (verbose) {
            setLevel(Level.DEBUG);
        }
    }

    @Option(names = {"-q", "--quiet"}, description = "Log warnings and errors only.")
    void setQuiet(boolean quiet) {
        if (quiet) {
            setLevel(Level.WARN);
        }
    }

    private static void setLevel(Level level) {
        ch.qos.logback.classic.Logger root =
                (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(level);
    }
}
