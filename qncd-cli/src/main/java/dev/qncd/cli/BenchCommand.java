package dev.qncd.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.ReadSelection;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qncd bench}: micro-benchmarks whose results go to docs/BENCHMARKS.md. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks (results and the commands that produced them are kept in docs/BENCHMARKS.md).",
        subcommands = {BenchCommand.Load.class, BenchUnetCommand.class})
public final class BenchCommand implements Runnable {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Loading time and resident memory of a checkpoint. */
    @Command(name = "load", mixinStandardHelpOptions = true,
            description = {"Time loading checkpoints (median of N runs) and measure the peak resident memory of the first",
                "load relative to the tensor bytes (Linux /proc; run one file per process for a clean peak).",
                "Example: qncd bench load model.safetensors model.ckpt --repeat 5"})
    static final class Load implements Callable<Integer> {
        @Mixin CommonOptions common;
        @Spec picocli.CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", arity = "1..*", description = "Checkpoints to load.")
        List<Path> files;

        @Option(names = "--repeat", defaultValue = "5", description = "Timed runs per file (default ${DEFAULT-VALUE}).")
        int repeat;

        @Option(names = "--prefix", paramLabel = "PREFIX",
                description = "Read only the tensors whose name starts with PREFIX (repeatable), e.g. first_stage_model.")
        List<String> prefixes = List.of();

        @Option(names = {"--float_type", "--float-type"}, paramLabel = "TYPE",
                description = "Convert floating-point tensors to float16, float32 or float64 as they are read.")
        String floatType;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            ReadSelection selection = new ReadSelection(prefixes, floatType == null ? null : switch (floatType) {
                case "float16" -> DataType.FLOAT16;
                case "float32" -> DataType.FLOAT32;
                case "float64" -> DataType.FLOAT64;
                default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--float-type must be float16, float32 or float64, got " + floatType);
            });
            out.printf("%-40s %10s %12s %12s %12s %10s%n", "file", "MB", "median ms", "min ms", "peak RSS MB", "peak/bytes");
            try (NDManager m = NDManager.newBaseManager()) {
                m.ones(new ai.djl.ndarray.types.Shape(1)).sum(); // start the engine before any measurement
            }
            for (Path f : files) {
                // First load: memory (peak resident set above the level before the load).
                long bytes = 0;
                long base = rssBytes("VmRSS");
                resetPeakRss();
                long peak;
                try (NDManager m = NDManager.newBaseManager()) {
                    for (NDArray a : Checkpoints.read(f, m, null, selection).values()) {
                        bytes += a.size() * a.getDataType().getNumOfBytes();
                    }
                    peak = Math.max(rssBytes("VmHWM"), rssBytes("VmRSS")) - base;
                }
                System.gc();
                double[] ms = new double[repeat];
                for (int i = 0; i < repeat; i++) {
                    long t0 = System.nanoTime();
                    try (NDManager m = NDManager.newBaseManager()) {
                        Map<String, NDArray> t = Checkpoints.read(f, m, null, selection);
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                        if (t.isEmpty()) {
                            throw new IllegalStateException("no tensors in " + f);
                        }
                    }
                }
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                out.printf("%-40s %10.1f %12.1f %12.1f %12.1f %10.2f%n", f.getFileName(), bytes / 1e6,
                        sorted[repeat / 2], sorted[0], peak / 1e6, peak / (double) bytes);
                out.flush();
            }
            return ExitCodes.OK;
        }

        /** Reads a "VmXXX: N kB" line of /proc/self/status; 0 where /proc is missing. */
        static long rssBytes(String field) throws IOException {
            Path status = Path.of("/proc/self/status");
            if (!Files.exists(status)) {
                return 0;
            }
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(field + ":")) {
                    String[] p = line.trim().split("\\s+");
                    return Long.parseLong(p[1]) * 1024;
                }
            }
            return 0;
        }

        /** Resets the kernel's peak-RSS counter (VmHWM) so each run measures its own peak. */
        static void resetPeakRss() {
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            } catch (IOException | UnsupportedOperationException e) {
                // not Linux, or not permitted: the peak then includes earlier runs
            }
        }
    }
}
