package dev.qncd.cli;

import dev.qncd.core.QncdException;
import dev.qncd.models.sampling.NoiseEstimationConfig;
import picocli.CommandLine.Option;

/**
 * The runtime noise estimation flags of the reference's {@code scripts/txt2img.py}
 * ({@code --sample_reverse --reverse_interval k}) plus qncd's two options, shared by the sampling
 * commands. See docs/QUANTIZATION.md, "Runtime noise estimation".
 */
public final class NoiseEstimationOptions {
    @Option(names = {"--sample_reverse", "--sample-reverse"},
            description = "Runtime noise estimation (QNCD): every k steps re-noise x_{t-1} to t, estimate the bias"
                    + " mean(eps - z) of the noise prediction, recompute the step and correct later predictions.")
    boolean sampleReverse;

    @Option(names = {"--reverse_interval", "--reverse-interval"}, paramLabel = "K",
            description = "Steps between estimates: at step counts n with (n - 2) mod K = K/2"
                    + " (default " + NoiseEstimationConfig.REFERENCE_INTERVAL + ", as the reference).")
    Integer reverseInterval;

    @Option(names = {"--reverse_variance", "--reverse-variance"},
            description = "Also reduce the step's injected noise to max(sigma - std/4, 0) (the reference computes"
                    + " std/4 but leaves it unused; no effect on deterministic DDIM).")
    boolean reverseVariance;

    @Option(names = {"--reverse_reset", "--reverse-reset"},
            description = "Start every batch uncorrected (the reference carries the last estimate of a batch into"
                    + " the first steps of the next).")
    boolean reverseReset;

    /**
     * @return the settings, or null without {@code --sample_reverse}
     * @throws QncdException when a refining flag is given without {@code --sample_reverse}, or K &lt; 1
     */
    public NoiseEstimationConfig config() {
        if (!sampleReverse) {
            if (reverseInterval != null || reverseVariance || reverseReset) {
                throw new QncdException("--reverse_interval, --reverse_variance and --reverse_reset only apply with"
                        + " --sample_reverse: add --sample_reverse or drop them");
            }
            return null;
        }
        return new NoiseEstimationConfig(reverseInterval != null ? reverseInterval : NoiseEstimationConfig.REFERENCE_INTERVAL,
                reverseVariance, reverseReset);
    }
}
