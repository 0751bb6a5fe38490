package dev.qncd.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.ddim.DdimConfig;
import dev.qncd.models.ddim.DdimUNet;
import dev.qncd.models.ldm.LdmUNet;
import dev.qncd.models.ldm.LdmUNetConfig;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.sampling.DdimSampler;
import dev.qncd.models.sampling.SamplingLoop;
import dev.qncd.models.sampling.StepHook;
import dev.qncd.models.sampling.Timesteps;
import dev.qncd.models.schedule.BetaSchedule;
import dev.qncd.models.schedule.NoiseSchedule;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
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
import picocli.CommandLine.Spec;

/**
 * {@code qncd bench unet}: the speed of one DDIM UNet evaluation and the native memory of a sampling
 * run (docs/BENCHMARKS.md, section "DDIM UNet (issue 3)"; driven side by side with PyTorch by
 * {@code scripts/bench_ddim.sh}).
 */
@Command(name = "unet", mixinStandardHelpOptions = true,
        description = {"Time one DDIM UNet forward pass (median of N after warm-up) and, with --sample-steps,",
            "the resident memory of a DDIM (eta 0) sampling run at steps 1, 10, n/4, n/2, 3n/4 and n (Linux /proc).",
            "Prints one machine-readable line per measurement.",
            "Example: qncd bench unet --config configs/cifar10.yml --ckpt unet.ckpt --inputs inputs.npz --threads 2"})
final class BenchUnetCommand implements Callable<Integer> {
    @Mixin CommonOptions common;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", required = true, paramLabel = "YAML", description = "Model config, e.g. configs/cifar10.yml.")
    Path config;

    @Option(names = "--ckpt", required = true, paramLabel = "FILE", description = "Checkpoint with the original keys.")
    Path ckpt;

    @Option(names = "--inputs", paramLabel = "NPZ",
            description = "x (float32 NCHW) and t (int64), optionally eps to compare with; default: random, --batch.")
    Path inputs;

    @Option(names = {"--batch_size", "--batch-size", "--batch"}, defaultValue = "16",
            description = "Batch size without --inputs (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--warmup", defaultValue = "3", description = "Untimed runs first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--repeat", defaultValue = "7", description = "Timed runs (default ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--threads", defaultValue = "0",
            description = "PyTorch intra-op threads (0: the engine's default).")
    int threads;

    @Option(names = {"--sample_steps", "--sample-steps"}, defaultValue = "0",
            description = "Also run DDIM sampling with this many steps and report resident memory (0: skip).")
    int sampleSteps;

    @Mixin DeviceOption device;

    @Option(names = "--serve", description = "Print 'ready', then time one forward pass per line 'go' on standard"
            + " input, printing 'ms=<milliseconds>' (until 'quit'): a driver script alternates qncd and another"
            + " implementation pass by pass (scripts/bench_ddim.sh).")
    boolean serve;

    @Override
    public Integer call() throws IOException {
        if (warmup < 0 || repeat < 1 || batch < 1 || sampleSteps < 0 || threads < 0) {
            throw new QncdException("--warmup, --threads and --sample-steps must be >= 0, --repeat and --batch >= 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        Engine engine = Engine.getInstance();
        if (threads > 0 && "PyTorch".equals(engine.getEngineName())) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        }
        Device dev = device.device();
        if (LdmUNetConfig.isLdmConfig(config)) {
            return callLdm(out, engine, dev);
        }
        DdimConfig cfg = DdimConfig.load(config);
        try (NDManager m = NDManager.newBaseManager(dev)) {
            NDArray x;
            NDArray t;
            NDArray expected = null;
            if (inputs != null) {
                Map<String, NDArray> in = Npz.read(inputs, m);
                if (!in.containsKey("x") || !in.containsKey("t")) {
                    throw new QncdException(inputs + " needs arrays x and t (it has " + in.keySet() + ")");
                }
                x = in.get("x").toType(DataType.FLOAT32, false);
                t = in.get("t");
                expected = in.get("eps");
            } else {
                int size = cfg.data().imageSize();
                m.getEngine().setRandomSeed(0);
                x = m.randomNormal(new Shape(batch, cfg.model().inChannels(), size, size));
                t = m.randomInteger(0, cfg.diffusion().numDiffusionTimesteps(), new Shape(batch), DataType.INT64);
            }
            try (DdimUNet unet = DdimUNet.load(cfg, Checkpoints.read(ckpt, m), LayerFactory.fullPrecision(), m,
                    ckpt.toString())) {
                if (serve) {
                    serve(out, unet, m, x, t, engine);
                    return ExitCodes.OK;
                }
                double[] ms = new double[repeat];
                double maxErr = Double.NaN;
                for (int i = 0; i < warmup + repeat; i++) {
                    try (NDManager step = m.newSubManager()) {
                        long t0 = System.nanoTime();
                        NDArray eps = unet.forward(x, t);
                        eps.attach(step);
                        eps.getFloat(0, 0, 0, 0); // waits for the result on asynchronous devices
                        double dt = (System.nanoTime() - t0) / 1e6;
                        if (i >= warmup) {
                            ms[i - warmup] = dt;
                        }
                        if (i == warmup + repeat - 1 && expected != null) {
                            maxErr = eps.sub(expected).abs().max().getFloat();
                        }
                    }
                }
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                out.printf("qncd median_ms=%.1f min_ms=%.1f runs=%d threads=%s batch=%d max_abs_err_vs_inputs=%s%n",
                        sorted[sorted.length / 2], sorted[0], repeat,
                        threadCount(engine),
                        x.getShape().get(0), Double.isNaN(maxErr) ? "n/a" : String.format("%.2e", maxErr));
                out.flush();
                if (sampleSteps > 0) {
                    sampleMemory(out, cfg, unet, m, x.getShape());
                }
            }
        }
        return ExitCodes.OK;
    }

    private static void serve(PrintWriter out, DdimUNet unet, NDManager m, NDArray x, NDArray t, Engine engine)
            throws IOException {
        out.printf("ready qncd threads=%s%n", threadCount(engine));
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null && line.trim().equals("go"); line = in.readLine()) {
            try (NDManager step = m.newSubManager()) {
                long t0 = System.nanoTime();
                NDArray eps = unet.forward(x, t);
                eps.attach(step);
                eps.getFloat(0, 0, 0, 0);
                out.printf("ms=%.1f%n", (System.nanoTime() - t0) / 1e6);
                out.flush();
            }
        }
    }

    private static String threadCount(Engine engine) {
        return "PyTorch".equals(engine.getEngineName()) ? String.valueOf(ai.djl.pytorch.jni.JniUtils.getNumThreads())
                : "?";
    }

    private void sampleMemory(PrintWriter out, DdimConfig cfg, DdimUNet unet, NDManager m, Shape shape) {
        DdimConfig.Diffusion d = cfg.diffusion();
        NoiseSchedule schedule = NoiseSchedule.of(BetaSchedule.parse(d.betaSchedule()), d.betaStart(), d.betaEnd(),
                d.numDiffusionTimesteps());
        int[] seq = Timesteps.sequence(Timesteps.Skip.UNIFORM, sampleSteps, d.numDiffusionTimesteps());
        DdimSampler sampler = new DdimSampler(schedule, seq, 0.0);
        long[] rss = new long[sampler.numSteps() + 1];
        long[] heap = new long[sampler.numSteps() + 1];
        rss[0] = rssKiB();
        heap[0] = Runtime.getRuntime().totalMemory() / 1024;
        long start = System.nanoTime();
        try (NDManager run = m.newSubManager()) {
            NDArray xT = run.randomNormal(shape);
            new SamplingLoop(unet, sampler, StepHook.NONE).run(xT, (done, total) -> {
                rss[done] = rssKiB();
                heap[done] = Runtime.getRuntime().totalMemory() / 1024;
            });
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        int n = sampler.numSteps();
        long max = Arrays.stream(rss, 1, n + 1).max().orElse(0);
        StringBuilder steps = new StringBuilder();
        for (int s : new java.util.TreeSet<>(List.of(1, 10, n / 4, n / 2, 3 * n / 4, n))) {
            if (s >= 1 && s <= n) {
                steps.append(String.format(" rss_mib_step%d=%.1f", s, rss[s] / 1024.0));
            }
        }
        int at10 = Math.min(10, n);
        // The resident set includes the Java heap the JVM has committed; the rest is native (PyTorch) memory.
        out.printf("qncd sampling steps=%d batch=%d seconds=%.1f rss_mib_before=%.1f%s rss_mib_max=%.1f"
                        + " heap_committed_mib_step%d=%.1f heap_committed_mib_step%d=%.1f%n", n, shape.get(0), seconds,
                rss[0] / 1024.0, steps, max / 1024.0, at10, heap[at10] / 1024.0, n, heap[n] / 1024.0);
        out.flush();
    }

    /** @return the resident set size of this process in KiB (0 where Linux /proc is unavailable) */
    static long rssKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /**
     * The latent-diffusion / Stable Diffusion UNet: one pass is eps = model(x, t, context, y) on the arrays
     * of --inputs (x, t, and context / y as the model takes them; eps, if present, is compared).
     */
    private Integer callLdm(PrintWriter out, Engine engine, Device dev) throws IOException {
        if (inputs == null || sampleSteps > 0) {
            throw new QncdException("for a latent-diffusion config, pass --inputs (x, t, and context and/or y as the model"
                    + " takes them; scripts/bench_ldm.sh makes them) and no --sample-steps");
        }
        LdmUNetConfig cfg = LdmUNetConfig.load(config);
        try (NDManager m = NDManager.newBaseManager(dev)) {
            Map<String, NDArray> in = Npz.read(inputs, m);
            List<String> needed = new java.util.ArrayList<>(List.of("x", "t"));
            if (cfg.takesContext()) {
                needed.add("context");
            }
            if (cfg.classConditional()) {
                needed.add("y");
            }
            for (String k : needed) {
                if (!in.containsKey(k)) {
                    throw new QncdException(inputs + " needs the array " + k + " for this model (it has " + in.keySet() + ")");
                }
            }
            NDArray x = in.get("x").toType(DataType.FLOAT32, false);
            NDArray context = cfg.takesContext() ? in.get("context") : null;
            NDArray y = cfg.classConditional() ? in.get("y") : null;
            NDArray expected = in.get("eps");
            try (LdmUNet unet = LdmUNet.load(cfg, Checkpoints.read(ckpt, m), LayerFactory.fullPrecision(), m,
                    ckpt.toString())) {
                java.util.function.Supplier<NDArray> pass = () -> unet.forward(x, in.get("t"), context, y);
                if (serve) {
                    servePasses(out, m, pass, engine);
                    return ExitCodes.OK;
                }
                double[] ms = new double[repeat];
                double maxErr = Double.NaN;
                for (int i = 0; i < warmup + repeat; i++) {
                    try (NDManager step = m.newSubManager()) {
                        long t0 = System.nanoTime();
                        NDArray eps = pass.get();
                        eps.attach(step);
                        eps.getFloat(0, 0, 0, 0); // waits for the result on asynchronous devices
                        double dt = (System.nanoTime() - t0) / 1e6;
                        if (i >= warmup) {
                            ms[i - warmup] = dt;
                        }
                        if (i == warmup + repeat - 1 && expected != null) {
                            maxErr = eps.sub(expected).abs().max().getFloat();
                        }
                    }
                }
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                out.printf("qncd median_ms=%.1f min_ms=%.1f runs=%d threads=%s batch=%d max_abs_err_vs_inputs=%s%n",
                        sorted[sorted.length / 2], sorted[0], repeat, threadCount(engine), x.getShape().get(0),
                        Double.isNaN(maxErr) ? "n/a" : String.format("%.2e", maxErr));
                out.flush();
            }
        }
        return ExitCodes.OK;
    }

    /** Serve mode for any pass: 'ready', then one timed pass per line 'go', printing 'ms=...'. */
    private static void servePasses(PrintWriter out, NDManager m, java.util.function.Supplier<NDArray> pass,
            Engine engine) throws IOException {
        out.printf("ready qncd threads=%s%n", threadCount(engine));
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null && line.trim().equals("go"); line = in.readLine()) {
            try (NDManager step = m.newSubManager()) {
                long t0 = System.nanoTime();
                NDArray eps = pass.get();
                eps.attach(step);
                eps.getFloat(0, 0, 0, 0);
                out.printf("ms=%.1f%n", (System.nanoTime() - t0) / 1e6);
                out.flush();
            }
        }
    }
}
