package dev.qncd.core.quant;

/**
 * The JSON-sidecar part of a saved {@link UniformAffineQuantizer}; the tensors (delta, zero_point,
 * x_min, x_max) go to the tensor file under the same prefix (see
 * {@link UniformAffineQuantizer#tensors(String)}).
 *
 * @param name the quantizer name
 * @param config its configuration
 * @param state its life-cycle state
 * @param channels number of channels C of its per-channel parameters, 0 when per tensor
 * @param observedBatches how many {@code observe(x)} EMA updates followed the last {@code calibrate(x)}
 */
public record QuantizerState(String name, QuantizerConfig config, QuantState state, long channels,
        long observedBatches) {}
