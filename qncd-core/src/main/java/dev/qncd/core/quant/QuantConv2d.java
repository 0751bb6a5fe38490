package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.convolutional.Conv2d;

/**
 * Quantized 2-D convolution: y = conv2d(Q_a(x), Q_w(W), b; stride, padding, dilation, groups)
 * (Q-Diffusion's {@code QuantModule} around {@code nn.Conv2d}, forwarding with {@code F.conv2d}).
 * Input (N, C, H, W), weight (O, C/groups, kH, kW). See {@link QuantLayer} for modes, split and life cycle.
 */
public final class QuantConv2d extends QuantConv {
    private QuantConv2d(Builder<QuantConv2d> b) {
        super(b, 2, "QuantConv2d");
    }

    /**
     * @param name the layer path (quantizer name prefix)
     * @param weight the full-precision weight (O, I/groups, kH, kW)
     * @return a builder (stride 1, padding 0, dilation 1, groups 1, no bias, W8 / A8, no split)
     */
    public static Builder<QuantConv2d> builder(String name, NDArray weight) {
        return new Builder<>(name, weight, QuantConv2d::new);
    }

    /** {@inheritDoc} */
    @Override
    protected NDArray apply(NDArray x, NDArray w, NDArray b) {
        return Conv2d.conv2d(x, w, b, stride, padding, dilation, groups).singletonOrThrow();
    }
}
