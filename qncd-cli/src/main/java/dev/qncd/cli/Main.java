package dev.qncd.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code qncd} command line. */
@Command(
        name = "qncd",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = {
            "Post-training quantization of diffusion models with QNCD (Chu et al., ACM MM 2024).",
            "Runs offline: models, data and feature extractors are files you pass."
        },
        subcommands = {CommandLine.HelpCommand.class, SampleDdimCommand.class, ForwardCommand.class,
            EvaluateCommand.class, InspectCommand.class, ConvertCommand.class, BenchCommand.class},
        commandListHeading = "%nCommands:%n",
        footer = {"", "Run 'qncd help <command>' (or 'qncd <command> --help') for a command's options.",
            "Exit codes: 0 ok, 1 internal error, 2 bad usage or config, 3 unusable input file,",
            "4 I/O error."})
public final class Main implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /**
     * Runs the command line and exits with its code.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line in-process (tests use this with the real parser).
     *
     * @param args the arguments
     * @return the exit code
     */
    public static int run(String... args) {
        // Never download anything at run time: the PyTorch native library comes from the jar.
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        return commandLine().execute(args);
    }

    /** @return the configured picocli command line (exception handling, case-insensitive enums) */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(new ExitCodes());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
