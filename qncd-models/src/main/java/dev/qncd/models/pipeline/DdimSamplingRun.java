package dev.qncd.models.pipeline;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Images;
import dev.qncd.core.io.Npy;
import dev.qncd.core.io.Npz;
import dev.qncd.core.util.AtomicFiles;
import dev.qncd.core.util.ProgressLogger;
import dev.qncd.models.NoiseModel;
import dev.qncd.models.ddim.DdimConfig;
import dev.qncd.models.sampling.DdimSampler;
import dev.qncd.models.sampling.DdpmSampler;
import dev.qncd.models.sampling.RuntimeNoiseEstimator;
import dev.qncd.models.sampling.Sampler;
import dev.qncd.models.sampling.SamplingLoop;
import dev.qncd.models.sampling.StepHook;
import dev.qncd.models.sampling.Timesteps;
import dev.qncd.models.schedule.BetaSchedule;
import dev.qncd.models.schedule.NoiseSchedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Samples images from a DDIM-config model as the reference {@code sample_diffusion_ddim.py} does:
 * seed once, then per batch x_T ~ N(0, I) (or a slice of the given start code), the sampler from
 * x_T to x_0, images saved as {@code <n>.png} (numbering continues after existing files, as the
 * reference), optionally all images as an ADM {@code .npz}, a grid of the first batch and {@code run.json}.
 */
public final class DdimSamplingRun {
    private static final Logger LOG = LoggerFactory.getLogger(DdimSamplingRun.class);

    private DdimSamplingRun() {}

    /**
     * @param model the noise model (full precision or quantized)
     * @param modelConfig its config (image size, channels, schedule)
     * @param cfg the run settings
     * @param hook per-step hook ({@link StepHook#NONE} for none)
     * @param manager parent manager (its device is used)
     * @param report extra entries for run.json (e.g. the quantization settings); may be empty
     * @return the run report written to run.json
     * @throws IOException when outputs cannot be written
     */
    public static Map<String, Object> run(NoiseModel model, DdimConfig modelConfig, DdimSampleConfig cfg,
            StepHook hook, NDManager manager, Map<String, Object> report) throws IOException {
        int size = modelConfig.data().imageSize();
        int channels = modelConfig.data().channels();
        NoiseSchedule schedule = NoiseSchedule.of(BetaSchedule.parse(modelConfig.diffusion().betaSchedule()),
                modelConfig.diffusion().betaStart(), modelConfig.diffusion().betaEnd(),
                modelConfig.diffusion().numDiffusionTimesteps());
        int[] seq = Timesteps.sequence(cfg.skip(), cfg.timesteps(), schedule.steps());
        Sampler sampler = cfg.sampleType().equals("generalized")
                ? new DdimSampler(schedule, seq, cfg.eta())
                : new DdpmSampler(schedule, seq, true); // the reference's ddpm_steps uses beta_t whatever var_type says
        Files.createDirectories(cfg.imageFolder());
        long existing;
        try (Stream<Path> s = Files.list(cfg.imageFolder())) {
            existing = s.filter(p -> p.getFileName().toString().endsWith(".png")).count();
        }
        NDArray startCode = null;
        int total = cfg.maxImages();
        if (cfg.startCode() != null) {
            startCode = Npy.read(cfg.startCode(), manager).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
            Shape s = startCode.getShape();
            if (s.dimension() != 4 || s.get(1) != channels || s.get(2) != size || s.get(3) != size) {
                throw new QncdException("--start-code " + cfg.startCode() + " has shape " + s + "; the model needs (N, "
                        + channels + ", " + size + ", " + size + ") float32");
            }
            total = (int) Math.min(total, s.get(0));
        }
        int todo = (int) Math.max(0, total - existing);
        if (existing > 0) {
            LOG.info("{} images already in {}: sampling the remaining {}", existing, cfg.imageFolder(), todo);
        }
        int batches = (todo + cfg.batchSize() - 1) / cfg.batchSize();
        LOG.info("sampling {} images in {} batches of up to {}, {} {} steps (eta {}, {} skip)", todo, batches,
                cfg.batchSize(), sampler.numSteps(), cfg.sampleType(), cfg.eta(), cfg.skip());
        Engine.getInstance().setRandomSeed((int) cfg.seed());
        ProgressLogger progress = new ProgressLogger(LOG, "sampling", "steps", (long) batches * sampler.numSteps(), 5);
        RuntimeNoiseEstimator estimator = noiseEstimator(model, cfg, sampler);
        SamplingLoop loop = new SamplingLoop(model, sampler, hook, estimator);
        List<NDArray> all = new ArrayList<>();
        NDArray firstBatch = null;
        int imgId = (int) existing;
        long t0 = System.nanoTime();
        for (int b = 0; b < batches; b++) {
            int n = Math.min(cfg.batchSize(), todo - b * cfg.batchSize());
            final int done = b * sampler.numSteps();
            try (NDManager batch = manager.newSubManager()) {
                // Rows of the start code line up with image numbers: images already present used the first rows.
                long row = existing + (long) b * cfg.batchSize();
                NDArray xT = startCode != null
                        ? startCode.get(new NDIndex("{}:{}", row, row + n)).duplicate()
                        : batch.randomNormal(new Shape(n, channels, size, size));
                xT.attach(batch);
                NDArray x0 = loop.run(xT, (i, tot) -> progress.update(done + i));
                NDArray u8 = Images.toUint8(x0);
                for (int i = 0; i < n; i++) {
                    Images.writePng(cfg.imageFolder().resolve(imgId++ + ".png"), u8.get(i));
                }
                u8.attach(manager);
                all.add(u8);
                if (firstBatch == null) {
                    firstBatch = u8;
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Files.createDirectories(cfg.logdir());
        if (firstBatch != null) {
            Images.writePng(cfg.logdir().resolve("grid.png"), Images.grid(firstBatch, 8));
        }
        if (cfg.savez() != null && !all.isEmpty()) {
            NDArray arr = all.size() == 1 ? all.get(0) : NDArrays.concat(new NDList(all.toArray(new NDArray[0])), 0);
            Map<String, NDArray> z = new LinkedHashMap<>();
            z.put("arr_0", arr);
            Npz.write(cfg.savez(), z, false);
            LOG.info("wrote {} images to {}", arr.getShape().get(0), cfg.savez());
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("command", "sample-ddim");
        out.put("settings", cfg);
        out.put("model", Map.of("image_size", size, "channels", channels, "ch", modelConfig.model().ch(),
                "ch_mult", modelConfig.model().chMult(), "beta_schedule", modelConfig.diffusion().betaSchedule()));
        out.putAll(report);
        out.put("images", todo);
        out.put("steps", sampler.numSteps());
        out.put("timesteps_used", seq);
        out.put("seconds", seconds);
        out.put("seconds_per_step_per_batch", batches == 0 ? 0 : seconds / batches / sampler.numSteps());
        if (estimator != null) {
            out.put("noise_estimation", noiseReport(estimator, sampler));
        }
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .registerModule(new com.fasterxml.jackson.databind.module.SimpleModule().addSerializer(Path.class,
                        new com.fasterxml.jackson.databind.ser.std.ToStringSerializer()));
        AtomicFiles.write(cfg.logdir().resolve("run.json"), json.writeValueAsBytes(out));
        LOG.info("{} images in {} ({} s); report {}", todo, cfg.imageFolder(), String.format("%.1f", seconds),
                cfg.logdir().resolve("run.json"));
        return out;
    }

    /** The estimator of {@code --sample_reverse} (null without it); warns where an option has no effect. */
    private static RuntimeNoiseEstimator noiseEstimator(NoiseModel model, DdimSampleConfig cfg, Sampler sampler) {
        if (cfg.noiseEstimation() == null) {
            return null;
        }
        int[] at = RuntimeNoiseEstimator.estimationSteps(sampler.numSteps(), cfg.noiseEstimation().interval());
        if (at.length == 0) {
            LOG.warn("--sample_reverse: no step of {} matches the --reverse_interval {} schedule; nothing is estimated",
                    sampler.numSteps(), cfg.noiseEstimation().interval());
        }
        boolean noisy = java.util.stream.IntStream.range(0, sampler.numSteps()).anyMatch(i -> sampler.noiseStd(i) > 0);
        if (cfg.noiseEstimation().varianceCorrection() && !noisy) {
            LOG.warn("--reverse_variance has no effect: these steps inject no noise (DDIM with --eta 0)");
        }
        LOG.info("runtime noise estimation at steps {} of each batch ({} extra model evaluations per batch)",
                java.util.Arrays.toString(at), at.length);
        return new RuntimeNoiseEstimator(cfg.noiseEstimation(), model);
    }

    private static Map<String, Object> noiseReport(RuntimeNoiseEstimator estimator, Sampler sampler) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("config", estimator.config());
        r.put("steps_per_batch", RuntimeNoiseEstimator.estimationSteps(sampler.numSteps(), estimator.config().interval()));
        r.put("extra_model_evaluations", estimator.estimates().size());
        r.put("estimates", estimator.estimates());
        return r;
    }
}
