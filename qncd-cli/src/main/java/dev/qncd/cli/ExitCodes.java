package dev.qncd.cli;

import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * The one place where errors become exit codes and messages.
 *
 * <ul>
 *   <li>0: success</li>
 *   <li>1: internal error (a bug: the stack trace is logged)</li>
 *   <li>2: bad usage: unknown flag, missing or invalid value, invalid config</li>
 *   <li>3: an input file that cannot be used: corrupt, truncated, unsupported or unsafe</li>
 *   <li>4: a file that cannot be read or written (missing, no permission, disk full)</li>
 * </ul>
 */
public final class ExitCodes implements CommandLine.IExecutionExceptionHandler {
    /** Success. */
    public static final int OK = 0;
    /** An unexpected internal error. */
    public static final int INTERNAL = 1;
    /** Bad flags or configuration. */
    public static final int USAGE = 2;
    /** An unusable input file. */
    public static final int BAD_FILE = 3;
    /** An I/O failure. */
    public static final int IO = 4;

    private static final Logger LOG = LoggerFactory.getLogger(ExitCodes.class);

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        Throwable e = ex instanceof UncheckedIOException u ? u.getCause() : ex;
        String prog = "qncd " + cmd.getCommandName();
        if (e instanceof FormatException) {
            cmd.getErr().println(prog + ": error: " + e.getMessage());
            return BAD_FILE;
        }
        if (e instanceof QncdException) {
            cmd.getErr().println(prog + ": error: " + e.getMessage());
            return USAGE;
        }
        if (e instanceof NoSuchFileException nsf) {
            cmd.getErr().println(prog + ": error: no such file: " + nsf.getFile() + " (check the path)");
            return IO;
        }
        if (e instanceof AccessDeniedException ade) {
            cmd.getErr().println(prog + ": error: permission denied: " + ade.getFile());
            return IO;
        }
        if (e instanceof IOException) {
            cmd.getErr().println(prog + ": error: " + e);
            return IO;
        }
        LOG.error("internal error (please report it with the command line you ran)", e);
        cmd.getErr().println(prog + ": internal error: " + e);
        return INTERNAL;
    }
}
