package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Scale Δ and zero point z of a uniform affine quantizer, float32, shape () per tensor or (C) per channel.
 * The arrays belong to whatever manager created them; the record does not own them.
 *
 * @param delta Δ
 * @param zeroPoint z (an integer value stored as float32)
 */
public record QuantParams(NDArray delta, NDArray zeroPoint) {

    /** Smallest Δ: the reference clamps Δ to 1e-8 ({@code torch.clamp(delta, min=1e-8)}). */
    public static final float MIN_DELTA = 1e-8f;

    /**
     * Δ and z from a clipping range, in float32 tensor arithmetic exactly as the reference's MSE search
     * ({@code quantize(x, max, min)}, quant_layer.py lines 175–177) and running-statistics update
     * ({@code act_momentum_update}, lines 100–109):
     * <ul>
     *   <li>asymmetric: Δ = (max − min)/(2^b − 1), z = round(−min/Δ);</li>
     *   <li>alwaysZero: Δ = max/(2^b − 1), z = 0;</li>
     *   <li>symmetric: Δ = max(|min|, |max|)/(2^(b−1) − 1), z = 0.</li>
     * </ul>
     * Δ is clamped to at least {@link #MIN_DELTA} before z is computed (the reference does this in the
     * running-statistics update; in the MSE search it matters only for a constant input, where the
     * reference divides by zero).
     *
     * @param min range minimum, shape () or (C); not clamped to 0 (as the reference)
     * @param max range maximum, same shape
     * @param config the quantizer config
     * @return Δ and z in min's manager
     */
    public static QuantParams fromRange(NDArray min, NDArray max, QuantizerConfig config) {
        NDArray delta;
        NDArray zp;
        if (config.symmetric()) {
            float levels = (float) ((1L << (config.bits() - 1)) - 1);
            delta = min.abs().maximum(max.abs()).div(levels).maximum(MIN_DELTA);
            zp = delta.zerosLike();
        } else if (config.alwaysZero()) {
            float levels = (float) ((1L << config.bits()) - 1);
            delta = max.div(levels).maximum(MIN_DELTA);
            zp = delta.zerosLike();
        } else {
            float levels = (float) ((1L << config.bits()) - 1);
            delta = max.sub(min).div(levels).maximum(MIN_DELTA);
            zp = min.neg().div(delta).round();
        }
        return new QuantParams(delta.toType(DataType.FLOAT32, false), zp.toType(DataType.FLOAT32, false));
    }
}
