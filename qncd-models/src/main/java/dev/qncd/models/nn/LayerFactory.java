package dev.qncd.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantConv2d;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.core.quant.QuantLinear;
import dev.qncd.core.quant.QuantizerConfig;

/**
 * Makes the layers a model is built from, by their original key path (e.g. {@code down.0.block.0.conv1}).
 * Every conv and linear layer is a {@link QuantLayer} (in mode OFF it is exactly the full-precision
 * layer) and every attention matmul a {@link QuantAttentionMatmul}, so quantization configures the
 * model's own layers instead of rebuilding it. A factory decides each layer's quantizer configs and
 * whether it uses the split-input variant.
 */
public interface LayerFactory {
    /**
     * @param path the layer's key path without {@code .weight}
     * @param weight (O, I, kH, kW)
     * @param bias (O) or null
     * @param stride stride (both axes)
     * @param padding zero padding (both axes, both ends)
     * @param split the channel count of the first input of a concatenated input (decoder blocks), or 0
     * @return the layer
     */
    QuantLayer conv2d(String path, NDArray weight, NDArray bias, int stride, int padding, int split);

    /**
     * @param path the layer's key path without {@code .weight}
     * @param weight (O, I)
     * @param bias (O) or null
     * @return the layer
     */
    QuantLayer linear(String path, NDArray weight, NDArray bias);

    /**
     * @param path the attention block's key path
     * @param manager owner of the quantizers
     * @return the attention matmul
     */
    QuantAttentionMatmul attention(String path, NDManager manager);

    /** @return a factory of full-precision layers (quantizers present but off, default W8A8 configs) */
    static LayerFactory fullPrecision() {
        return new LayerFactory() {
            @Override
            public QuantLayer conv2d(String path, NDArray weight, NDArray bias, int stride, int padding, int split) {
                return QuantConv2d.builder(path, weight).bias(bias).stride(stride).padding(padding).build();
            }

            @Override
            public QuantLayer linear(String path, NDArray weight, NDArray bias) {
                return new QuantLinear(path, weight, bias, QuantizerConfig.W8, QuantizerConfig.A8);
            }

            @Override
            public QuantAttentionMatmul attention(String path, NDManager manager) {
                return new QuantAttentionMatmul(path, QuantizerConfig.A8, QuantizerConfig.SOFTMAX_16,
                        QuantAttentionMatmul.ScalePlacement.AFTER_QK, manager);
            }
        };
    }
}
