package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;

/**
 * What the quantized N-d convolutions share: stride, padding, dilation, groups, their validation, the
 * output-shape rule and one builder. {@link QuantConv1d} and {@link QuantConv2d} only add the
 * functional convolution they apply. See {@link QuantLayer} for modes, split and life cycle.
 */
public abstract class QuantConv extends QuantLayer {
    /** Stride per spatial dimension. */
    protected final Shape stride;
    /** Zero padding per spatial dimension, applied on both ends. */
    protected final Shape padding;
    /** Dilation per spatial dimension. */
    protected final Shape dilation;
    /** Convolution groups. */
    protected final int groups;
    private final long outChannels;
    private final Shape kernel;

    /**
     * @param b the builder
     * @param dims spatial dimensions (1 or 2)
     * @param kind class name for messages
     */
    protected QuantConv(Builder<?> b, int dims, String kind) {
        super(b.name, b.weight, b.bias, b.weightConfig, b.actConfig, b.split, 1);
        if (b.weight.getShape().dimension() != dims + 2) {
            throw new IllegalArgumentException(kind + " '" + b.name + "': weight must have " + (dims + 2)
                    + " dimensions (O, I/groups, kernel...), got " + b.weight.getShape());
        }
        if (b.split > 0 && b.groups != 1) {
            throw new IllegalArgumentException(kind + " '" + b.name + "': split needs groups = 1, got " + b.groups);
        }
        this.stride = new Shape(b.spatial(b.stride, dims, 1, "stride", kind));
        this.padding = new Shape(b.spatial(b.padding, dims, 0, "padding", kind));
        this.dilation = new Shape(b.spatial(b.dilation, dims, 1, "dilation", kind));
        this.groups = b.groups;
        this.outChannels = b.weight.getShape().get(0);
        long[] k = new long[dims];
        for (int i = 0; i < dims; i++) {
            k[i] = b.weight.getShape().get(2 + i);
        }
        this.kernel = new Shape(k);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        int dims = kernel.dimension();
        long[] out = new long[dims + 2];
        out[0] = in.get(0);
        out[1] = outChannels;
        for (int i = 0; i < dims; i++) {
            out[2 + i] = (in.get(2 + i) + 2 * padding.get(i) - dilation.get(i) * (kernel.get(i) - 1) - 1)
                    / stride.get(i) + 1;
        }
        return new Shape[] {new Shape(out)};
    }

    /**
     * Builder of a quantized convolution (defaults: stride 1, padding 0, dilation 1, groups 1, no bias,
     * W8 / A8, no split). Spatial settings take one value per spatial dimension, or one value for all.
     *
     * @param <L> the layer type built
     */
    public static final class Builder<L extends QuantConv> {
        private final String name;
        private final NDArray weight;
        private final Function<Builder<L>, L> factory;
        private NDArray bias;
        private long[] stride = {1};
        private long[] padding = {0};
        private long[] dilation = {1};
        private int groups = 1;
        private QuantizerConfig weightConfig = QuantizerConfig.W8;
        private QuantizerConfig actConfig = QuantizerConfig.A8;
        private int split;

        Builder(String name, NDArray weight, Function<Builder<L>, L> factory) {
            this.name = Objects.requireNonNull(name, "name");
            this.weight = Objects.requireNonNull(weight, "weight");
            this.factory = factory;
        }

        /**
         * @param b the bias (O) or null
         * @return this
         */
        public Builder<L> bias(NDArray b) {
            this.bias = b;
            return this;
        }

        /**
         * @param s stride per spatial dimension (or one for all)
         * @return this
         */
        public Builder<L> stride(long... s) {
            this.stride = s.clone();
            return this;
        }

        /**
         * @param p zero padding per spatial dimension (or one for all), on both ends
         * @return this
         */
        public Builder<L> padding(long... p) {
            this.padding = p.clone();
            return this;
        }

        /**
         * @param d dilation per spatial dimension (or one for all)
         * @return this
         */
        public Builder<L> dilation(long... d) {
            this.dilation = d.clone();
            return this;
        }

        /**
         * @param g groups
         * @return this
         */
        public Builder<L> groups(int g) {
            this.groups = g;
            return this;
        }

        /**
         * @param c weight quantizer config
         * @return this
         */
        public Builder<L> weightConfig(QuantizerConfig c) {
            this.weightConfig = Objects.requireNonNull(c);
            return this;
        }

        /**
         * @param c activation quantizer config
         * @return this
         */
        public Builder<L> activationConfig(QuantizerConfig c) {
            this.actConfig = Objects.requireNonNull(c);
            return this;
        }

        /**
         * @param s input-channel split index (0: none)
         * @return this
         */
        public Builder<L> split(int s) {
            this.split = s;
            return this;
        }

        /** @return the layer (mode OFF, quantizers uncalibrated) */
        public L build() {
            return factory.apply(this);
        }

        private long[] spatial(long[] v, int dims, long min, String what, String kind) {
            long[] out = v.length == 1 ? filled(dims, v[0]) : v;
            if (out.length != dims || Arrays.stream(out).anyMatch(x -> x < min)) {
                throw new IllegalArgumentException(kind + " '" + name + "': " + what + " " + Arrays.toString(v)
                        + " must have 1 or " + dims + " values, each at least " + min);
            }
            return out;
        }

        private static long[] filled(int n, long v) {
            long[] a = new long[n];
            Arrays.fill(a, v);
            return a;
        }
    }
}
