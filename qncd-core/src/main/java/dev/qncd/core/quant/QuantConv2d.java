package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import java.util.Objects;

/**
 * Quantized 2-D convolution: y = conv2d(Q_a(x), Q_w(W), b; stride, padding, dilation, groups)
 * (Q-Diffusion's {@code QuantModule} around {@code nn.Conv2d}, forwarding with {@code F.conv2d}).
 * Input (N, C, H, W), weight (O, C/groups, kH, kW). See {@link QuantLayer} for modes, split and life cycle.
 */
public final class QuantConv2d extends QuantLayer {
    private final Shape stride;
    private final Shape padding;
    private final Shape dilation;
    private final int groups;
    private final long outChannels;
    private final Shape kernel;

    private QuantConv2d(Builder b) {
        super(b.name, b.weight, b.bias, b.weightConfig, b.actConfig, b.split, 1);
        if (b.weight.getShape().dimension() != 4) {
            throw new IllegalArgumentException("QuantConv2d '" + b.name + "': weight must be (O, I/groups, kH, kW), got "
                    + b.weight.getShape());
        }
        if (b.split > 0 && b.groups != 1) {
            throw new IllegalArgumentException("QuantConv2d '" + b.name + "': split needs groups = 1, got "
                    + b.groups);
        }
        this.stride = new Shape(b.stride);
        this.padding = new Shape(b.padding);
        this.dilation = new Shape(b.dilation);
        this.groups = b.groups;
        this.outChannels = b.weight.getShape().get(0);
        this.kernel = new Shape(b.weight.getShape().get(2), b.weight.getShape().get(3));
    }

    /**
     * @param name the layer path (quantizer name prefix)
     * @param weight the full-precision weight (O, I/groups, kH, kW)
     * @return a builder (stride 1, padding 0, dilation 1, groups 1, no bias, W8 / A8, no split)
     */
    public static Builder builder(String name, NDArray weight) {
        return new Builder(name, weight);
    }

    /** {@inheritDoc} */
    @Override
    protected NDArray apply(NDArray x, NDArray w, NDArray b) {
        return Conv2d.conv2d(x, w, b, stride, padding, dilation, groups).singletonOrThrow();
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        long[] out = {in.get(0), outChannels, 0, 0};
        for (int i = 0; i < 2; i++) {
            out[2 + i] = (in.get(2 + i) + 2 * padding.get(i) - dilation.get(i) * (kernel.get(i) - 1) - 1)
                    / stride.get(i) + 1;
        }
        return new Shape[] {new Shape(out)};
    }

    /** Builder of {@link QuantConv2d}. */
    public static final class Builder {
        private final String name;
        private final NDArray weight;
        private NDArray bias;
        private long[] stride = {1, 1};
        private long[] padding = {0, 0};
        private long[] dilation = {1, 1};
        private int groups = 1;
        private QuantizerConfig weightConfig = QuantizerConfig.W8;
        private QuantizerConfig actConfig = QuantizerConfig.A8;
        private int split;

        private Builder(String name, NDArray weight) {
            this.name = Objects.requireNonNull(name, "name");
            this.weight = Objects.requireNonNull(weight, "weight");
        }

        /**
         * @param b the bias (O) or null
         * @return this
         */
        public Builder bias(NDArray b) {
            this.bias = b;
            return this;
        }

        /**
         * @param sh stride along H
         * @param sw stride along W
         * @return this
         */
        public Builder stride(long sh, long sw) {
            this.stride = new long[] {sh, sw};
            return this;
        }

        /**
         * @param ph zero padding along H
         * @param pw along W
         * @return this
         */
        public Builder padding(long ph, long pw) {
            this.padding = new long[] {ph, pw};
            return this;
        }

        /**
         * @param dh dilation along H
         * @param dw along W
         * @return this
         */
        public Builder dilation(long dh, long dw) {
            this.dilation = new long[] {dh, dw};
            return this;
        }

        /**
         * @param g groups
         * @return this
         */
        public Builder groups(int g) {
            this.groups = g;
            return this;
        }

        /**
         * @param c weight quantizer config
         * @return this
         */
        public Builder weightConfig(QuantizerConfig c) {
            this.weightConfig = Objects.requireNonNull(c);
            return this;
        }

        /**
         * @param c activation quantizer config
         * @return this
         */
        public Builder activationConfig(QuantizerConfig c) {
            this.actConfig = Objects.requireNonNull(c);
            return this;
        }

        /**
         * @param s input-channel split index (0: none)
         * @return this
         */
        public Builder split(int s) {
            this.split = s;
            return this;
        }

        /** @return the layer (mode OFF, quantizers uncalibrated) */
        public QuantConv2d build() {
            return new QuantConv2d(this);
        }
    }
}
