package dev.qncd.models.pipeline;

import dev.qncd.core.QncdException;
import dev.qncd.models.sampling.NoiseEstimationConfig;
import dev.qncd.models.sampling.Timesteps;
import java.nio.file.Path;

/**
 * Settings of a DDIM-model sampling run (the flags of the reference {@code sample_diffusion_ddim.py}).
 *
 * @param timesteps number of sampling steps
 * @param eta DDIM η (0 deterministic)
 * @param skip timestep spacing
 * @param sampleType {@code generalized} (DDIM) or {@code ddpm_noisy} (DDPM ancestral)
 * @param seed random seed of x_T and step noise
 * @param batchSize images per batch
 * @param maxImages images to produce in all
 * @param startCode optional x_T .npy (N, C, H, W) float32; when given, its N bounds the image count
 * @param savez optional ADM-style .npz of all images ({@code arr_0}, uint8 NHWC)
 * @param logdir output folder (run.json, grid.png)
 * @param imageFolder folder of the PNG images
 * @param noiseEstimation runtime noise estimation ({@code --sample_reverse}), or null for none
 */
public record DdimSampleConfig(int timesteps, double eta, Timesteps.Skip skip, String sampleType, long seed,
        int batchSize, int maxImages, Path startCode, Path savez, Path logdir, Path imageFolder,
        NoiseEstimationConfig noiseEstimation) {
    /** Without runtime noise estimation (the settings before {@code --sample_reverse}). */
    public DdimSampleConfig(int timesteps, double eta, Timesteps.Skip skip, String sampleType, long seed,
            int batchSize, int maxImages, Path startCode, Path savez, Path logdir, Path imageFolder) {
        this(timesteps, eta, skip, sampleType, seed, batchSize, maxImages, startCode, savez, logdir, imageFolder, null);
    }

    /** Validates the settings; errors name the flag. */
    public DdimSampleConfig {
        if (timesteps < 1) {
            throw new QncdException("--timesteps must be at least 1, got " + timesteps);
        }
        if (eta < 0) {
            throw new QncdException("--eta must be at least 0, got " + eta);
        }
        if (!sampleType.equals("generalized") && !sampleType.equals("ddpm_noisy")) {
            throw new QncdException("--sample_type must be generalized or ddpm_noisy, got '" + sampleType + "'");
        }
        if (batchSize < 1) {
            throw new QncdException("--batch_size must be at least 1, got " + batchSize);
        }
        if (maxImages < 1) {
            throw new QncdException("--max_images must be at least 1, got " + maxImages);
        }
    }
}
