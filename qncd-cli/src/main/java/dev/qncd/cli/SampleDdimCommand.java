package dev.qncd.cli;

import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.models.ddim.DdimConfig;
import dev.qncd.models.ddim.DdimUNet;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.pipeline.DdimSampleConfig;
import dev.qncd.models.pipeline.DdimSamplingRun;
import dev.qncd.models.sampling.NoiseEstimationConfig;
import dev.qncd.models.sampling.StepHook;
import dev.qncd.models.sampling.Timesteps;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code qncd sample-ddim}: the reference {@code sample_diffusion_ddim.py}, in full precision. */
@Command(name = "sample-ddim", mixinStandardHelpOptions = true,
        description = {"Sample images from a DDIM / pytorch_diffusion model (e.g. CIFAR-10) with DDIM or DDPM steps,",
            "as the reference scripts/sample_diffusion_ddim.py. Flags accept snake_case and kebab-case.",
            "Example: qncd sample-ddim --config configs/cifar10.yml --ckpt ema_cifar10.ckpt --timesteps 100 \\",
            "           --max_images 64 --savez samples.npz -l out/cifar"})
public final class SampleDdimCommand implements Callable<Integer> {
    @Mixin CommonOptions common;
    @Mixin ModelOptions model;
    @Mixin DeviceOption device;
    @Mixin NoiseEstimationOptions noise;

    @Option(names = "--timesteps", defaultValue = "100", description = "Sampling steps (default ${DEFAULT-VALUE}).")
    int timesteps;

    @Option(names = "--eta", defaultValue = "0.0", description = "DDIM eta; 0 is deterministic (default ${DEFAULT-VALUE}).")
    double eta;

    @Option(names = {"--skip_type", "--skip-type"}, defaultValue = "uniform",
            description = "Timestep spacing: uniform or quad (default ${DEFAULT-VALUE}).")
    String skipType;

    @Option(names = {"--sample_type", "--sample-type"}, defaultValue = "generalized",
            description = "generalized (DDIM) or ddpm_noisy (DDPM ancestral) (default ${DEFAULT-VALUE}).")
    String sampleType;

    @Option(names = "--seed", defaultValue = "1234", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"--batch_size", "--batch-size"}, description = "Images per batch (default: the config's sampling.batch_size, else 64).")
    Integer batchSize;

    @Option(names = {"--max_images", "--max-images"}, defaultValue = "50000",
            description = "Images to sample (default ${DEFAULT-VALUE}, as the reference).")
    int maxImages;

    @Option(names = {"--start-code", "--start_code"}, paramLabel = "NPY",
            description = "Initial noise x_T (N, C, H, W) float32 .npy, to compare runs across implementations.")
    Path startCode;

    @Option(names = "--savez", paramLabel = "NPZ", description = "Also write all images as arr_0 (uint8 NHWC), as ADM's evaluator reads.")
    Path savez;

    @Option(names = {"-l", "--logdir"}, paramLabel = "DIR",
            description = "Output folder for run.json and grid.png (default qncd-out/sample-ddim/<time>).")
    Path logdir;

    @Option(names = {"--image_folder", "--image-folder"}, paramLabel = "DIR", description = "PNG folder (default <logdir>/img).")
    Path imageFolder;

    @Override
    public Integer call() throws Exception {
        Timesteps.Skip skip = Timesteps.Skip.parse(skipType); // flags first, files second
        NoiseEstimationConfig noiseEstimation = noise.config();
        DdimConfig cfg = DdimConfig.load(model.config);
        Path dir = logdir != null ? logdir
                : Path.of("qncd-out", "sample-ddim", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd-HH-mm-ss")));
        int batch = batchSize != null ? batchSize
                : cfg.sampling() != null && cfg.sampling().batchSize() != null ? cfg.sampling().batchSize() : 64;
        DdimSampleConfig run = new DdimSampleConfig(timesteps, eta, skip, sampleType, seed,
                batch, maxImages, startCode, savez, dir, imageFolder != null ? imageFolder : dir.resolve("img"),
                noiseEstimation);
        try (NDManager m = NDManager.newBaseManager(device.device());
                DdimUNet unet = DdimUNet.load(cfg, Checkpoints.read(model.ckpt, m, model.ckptKey),
                        LayerFactory.fullPrecision(), m, model.ckpt.toString())) {
            DdimSamplingRun.run(unet, cfg, run, StepHook.NONE, m,
                    Map.of("config_file", model.config.toString(), "ckpt", model.ckpt.toString(), "device", device.device().toString()));
        }
        return ExitCodes.OK;
    }
}
