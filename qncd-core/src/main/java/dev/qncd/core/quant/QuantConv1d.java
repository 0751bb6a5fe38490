package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.convolutional.Conv1d;

/**
 * Quantized 1-D convolution: y = conv1d(Q_a(x), Q_w(W), b; stride, padding, dilation, groups)
 * (Q-Diffusion's {@code QuantModule} around {@code nn.Conv1d}, forwarding with {@code F.conv1d}).
 * Input (N, C, L), weight (O, C/groups, k). See {@link QuantLayer} for modes, split and life cycle.
 */
public final class QuantConv1d extends QuantConv {
    private QuantConv1d(Builder<QuantConv1d> b) {
        super(b, 1, "QuantConv1d");
    }

    /**
     * @param name the layer path (quantizer name prefix)
     * @param weight the full-precision weight (O, I/groups, k)
     * @return a builder (stride 1, padding 0, dilation 1, groups 1, no bias, W8 / A8, no split)
     */
    public static Builder<QuantConv1d> builder(String name, NDArray weight) {
        return new Builder<>(name, weight, QuantConv1d::new);
    }

    /** {@inheritDoc} */
    @Override
    protected NDArray apply(NDArray x, NDArray w, NDArray b) {
        return Conv1d.conv1d(x, w, b, stride, padding, dilation, groups).singletonOrThrow();
    }
}
