package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;

/**
 * Quantized linear layer: y = Q_a(x)·Q_w(W)ᵀ + b (Q-Diffusion's {@code QuantModule} around
 * {@code nn.Linear}, forwarding with {@code F.linear}). Input (..., I), weight (O, I); the split (if any)
 * is along the last input axis. See {@link QuantLayer} for modes, split and life cycle.
 */
public final class QuantLinear extends QuantLayer {
    private final long outFeatures;

    /**
     * @param name the layer path (quantizer name prefix)
     * @param weight the full-precision weight (O, I)
     * @param bias the bias (O) or null
     * @param weightConfig weight quantizer config (e.g. {@link QuantizerConfig#W8})
     * @param actConfig activation quantizer config (e.g. {@link QuantizerConfig#A8})
     * @param split input-feature split index (0: none)
     */
    public QuantLinear(String name, NDArray weight, NDArray bias, QuantizerConfig weightConfig,
            QuantizerConfig actConfig, int split) {
        super(name, weight, bias, weightConfig, actConfig, split, -1);
        if (weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("QuantLinear '" + name + "': weight must be (O, I), got "
                    + weight.getShape());
        }
        this.outFeatures = weight.getShape().get(0);
    }

    /**
     * Without a split.
     *
     * @see #QuantLinear(String, NDArray, NDArray, QuantizerConfig, QuantizerConfig, int)
     */
    public QuantLinear(String name, NDArray weight, NDArray bias, QuantizerConfig weightConfig,
            QuantizerConfig actConfig) {
        this(name, weight, bias, weightConfig, actConfig, 0);
    }

    /** {@inheritDoc} */
    @Override
    protected NDArray apply(NDArray x, NDArray w, NDArray b) {
        return b == null ? Linear.linear(x, w).singletonOrThrow() : Linear.linear(x, w, b).singletonOrThrow();
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        long[] dims = in.getShape().clone();
        dims[dims.length - 1] = outFeatures;
        return new Shape[] {new Shape(dims)};
    }
}
