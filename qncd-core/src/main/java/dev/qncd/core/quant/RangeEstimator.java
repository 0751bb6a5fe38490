package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;

/**
 * One range-initialisation algorithm of a uniform affine quantizer (the reference's
 * {@code init_quantization_scale} branches). Implementations are stateless.
 *
 * <p>Contract: {@code x} is not modified; the returned arrays are float32 of shape (C) along
 * {@code config.channelAxis()} when {@code config.channelWise()}, else shape (), and are attached to
 * {@code x}'s manager; every temporary is closed before returning.
 */
public interface RangeEstimator {

    /**
     * @param x a calibration batch (float32)
     * @param config the quantizer config (bits, symmetric/alwaysZero, channel axis)
     * @return Δ and z
     */
    QuantParams estimate(NDArray x, QuantizerConfig config);

    /**
     * @param method the configured method
     * @return the estimator implementing it
     */
    static RangeEstimator of(RangeMethod method) {
        switch (method) {
            case MIN_MAX:
                return new MinMaxRange();
            case MSE:
                return new MseRangeSearch();
            case PERCENTILE:
                return new PercentileRange();
            default:
                throw new IllegalArgumentException("unknown range method " + method);
        }
    }

    /**
     * Channel axis of {@code x} for {@code config}, or −1 for per tensor.
     *
     * @param x the tensor
     * @param config the config
     * @param what the owner, for error messages
     * @return the axis
     */
    static int channelAxis(NDArray x, QuantizerConfig config, String what) {
        return config.channelWise()
                ? Tensors.normalizeAxis(config.channelAxis(), x.getShape().dimension(), what)
                : -1;
    }
}
