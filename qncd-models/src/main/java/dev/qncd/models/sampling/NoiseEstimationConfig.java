package dev.qncd.models.sampling;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.qncd.core.QncdException;

/**
 * Settings of QNCD's runtime noise estimation ({@code --sample_reverse}), see {@link RuntimeNoiseEstimator}.
 *
 * @param interval k of {@code --reverse_interval}: an estimate is made at the step counts n (1-based,
 *     per trajectory) with (n − 2) mod k = ⌊k/2⌋, the reference's rule; k = 10 in the reference
 * @param varianceCorrection also reduce the sampler's injected noise: σ' = max(σ − s/4, 0) with s the
 *     estimated std of ε̂ − z (the reference computes s/4 and then sets it to 0, i.e. off)
 * @param resetPerBatch start every trajectory (batch) with no correction; the reference keeps the
 *     last estimate of one batch and subtracts it in the first steps of the next (false)
 */
public record NoiseEstimationConfig(
        @JsonProperty("reverse_interval") int interval,
        @JsonProperty("variance_correction") boolean varianceCorrection,
        @JsonProperty("reset_per_batch") boolean resetPerBatch) {
    /** The reference's default {@code --reverse_interval}. */
    public static final int REFERENCE_INTERVAL = 10;

    /** The reference's behaviour: k = 10, bias correction only, estimates carried across batches. */
    public static final NoiseEstimationConfig REFERENCE = new NoiseEstimationConfig(REFERENCE_INTERVAL, false, false);

    /** Validates; the error names the flag to fix. */
    public NoiseEstimationConfig {
        if (interval < 1) {
            throw new QncdException("--reverse_interval must be at least 1 (an estimate every k steps), got " + interval);
        }
    }

    /**
     * @param k the interval
     * @return the reference settings with interval k
     */
    public static NoiseEstimationConfig everyK(int k) {
        return new NoiseEstimationConfig(k, false, false);
    }
}
