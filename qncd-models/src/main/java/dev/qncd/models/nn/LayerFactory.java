package dev.qncd.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantConv1d;
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

    /**
     * A 1-D convolution with stride 1 and no padding (the openai UNet's {@code AttentionBlock} has
     * {@code qkv} and {@code proj_out} as 1x1 {@code Conv1d}). Factories that quantize must implement
     * it; the default refuses, so that a model needing it cannot silently get an unquantized layer.
     *
     * @param path the layer's key path without {@code .weight}
     * @param weight (O, I, k)
     * @param bias (O) or null
     * @return the layer
     * @throws UnsupportedOperationException unless the factory implements it
     */
    default QuantLayer conv1d(String path, NDArray weight, NDArray bias) {
        throw new UnsupportedOperationException(getClass().getName() + " makes no 1-D convolutions (needed for '"
                + path + "'): implement LayerFactory.conv1d");
    }

    /**
     * An attention matmul with a given softmax-scale placement: {@link #attention(String, NDManager)}
     * makes the {@code AFTER_QK} kind (DDIM's attention, the transformer's {@code CrossAttention});
     * the openai UNet's {@code AttentionBlock} scales q and k before its matmul
     * ({@code SPLIT_BEFORE_QUANT}, Q-Diffusion's {@code QuantQKMatMul}). The default serves
     * {@code AFTER_QK} through {@link #attention(String, NDManager)} and refuses the other placement, so
     * a factory that quantizes attention must implement this to quantize such blocks as the reference.
     *
     * @param path the attention's key path
     * @param manager owner of the quantizers
     * @param placement where the softmax scale is applied
     * @return the attention matmul
     * @throws UnsupportedOperationException for a placement the factory does not implement
     */
    default QuantAttentionMatmul attention(String path, NDManager manager,
            QuantAttentionMatmul.ScalePlacement placement) {
        if (placement == QuantAttentionMatmul.ScalePlacement.AFTER_QK) {
            return attention(path, manager);
        }
        throw new UnsupportedOperationException(getClass().getName() + " makes no " + placement
                + " attention (needed for '" + path + "'): implement LayerFactory.attention(path, manager, placement)");
    }

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
                return attention(path, manager, QuantAttentionMatmul.ScalePlacement.AFTER_QK);
            }

            @Override
            public QuantLayer conv1d(String path, NDArray weight, NDArray bias) {
                return QuantConv1d.builder(path, weight).bias(bias).build();
            }

            @Override
            public QuantAttentionMatmul attention(String path, NDManager manager,
                    QuantAttentionMatmul.ScalePlacement placement) {
                return new QuantAttentionMatmul(path, QuantizerConfig.A8, QuantizerConfig.SOFTMAX_16, placement, manager);
            }
        };
    }
}
