package dev.qncd.core.quant;

/**
 * How a {@link UniformAffineQuantizer} chooses its clipping range [min, max] from a calibration batch.
 *
 * <p>Each method is implemented by one {@link RangeEstimator} class.
 */
public enum RangeMethod {
    /**
     * Q-Diffusion's {@code scale_method='max'}: the batch minimum and maximum (with the reference's exact
     * Δ/z formulas, see {@link MinMaxRange}).
     */
    MIN_MAX,
    /**
     * Q-Diffusion's {@code scale_method='mse'}: 80 shrinking ranges [min·(1−0.01 i), max·(1−0.01 i)], keep
     * the one minimising mean |x − q(x)|^2.4 (LAPQ, arXiv 1911.07190), see {@link MseRangeSearch}.
     */
    MSE,
    /**
     * Not in the reference: clip to the {@code percentile} and {@code 1 − percentile} quantiles, see
     * {@link PercentileRange}.
     */
    PERCENTILE
}
