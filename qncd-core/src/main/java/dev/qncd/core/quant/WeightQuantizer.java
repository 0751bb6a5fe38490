package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * What a quantized layer needs from its weight quantizer — the seam where an AdaRound quantizer
 * (Nagel et al. 2020, the reference's {@code AdaRoundQuantizer}, which starts from a calibrated
 * {@link UniformAffineQuantizer}'s Δ and z and learns the rounding) can replace the nearest-rounding
 * {@link UniformAffineQuantizer} later.
 *
 * <p>Life cycle as {@link QuantState}: {@link #calibrate} → (optional optimisation) → {@link #freeze}.
 */
public interface WeightQuantizer extends AutoCloseable {

    /** @return the quantizer's name (its key prefix in checkpoints), e.g. {@code down.0.conv1.weight_quantizer} */
    String name();

    /** @return the current state */
    QuantState state();

    /**
     * Sets Δ and z from the weight slice it will quantize.
     *
     * @param w the full-precision weight (or split slice)
     */
    void calibrate(NDArray w);

    /** Makes the parameters final; afterwards only {@link #fakeQuantize} is allowed. */
    void freeze();

    /**
     * q(w) = (clamp(round(w/Δ) + z, lo, hi) − z)·Δ, or the learned rounding's equivalent.
     *
     * @param w the weight
     * @return the fake-quantized weight, attached to {@code w}'s manager
     */
    NDArray fakeQuantize(NDArray w);

    /**
     * The tensors that restore this quantizer (owned by it: copy before closing it).
     *
     * @param prefix prepended verbatim to each key, e.g. {@code "down.0.conv1.weight_quantizer."}
     * @return key → tensor
     */
    Map<String, NDArray> tensors(String prefix);

    /** Frees the quantizer's native memory. */
    @Override
    void close();
}
