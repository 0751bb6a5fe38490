package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.pooling.Pool;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/** Parameter lookup and the parameter-free operations the LDM UNet's modules share. */
final class LdmLayers {
    /** eps of {@code util.normalization} (GroupNorm32: the nn.GroupNorm default). */
    static final float NORMALIZATION_EPS = 1e-5f;
    /** eps of {@code attention.Normalize} (the SpatialTransformer's GroupNorm). */
    static final float TRANSFORMER_NORM_EPS = 1e-6f;
    /** eps of nn.LayerNorm (the transformer blocks' norm1..3). */
    static final float LAYER_NORM_EPS = 1e-5f;

    private LdmLayers() {}

    /** A 2-D convolution {@code path} (kernel k, with bias) of the state dict. */
    static QuantLayer conv2d(String path, int in, int out, int k, int stride, int pad, int split, ParamSource p,
            LayerFactory f) {
        return f.conv2d(path, p.get(path + ".weight", out, in, k, k), p.get(path + ".bias", out), stride, pad, split);
    }

    /** A linear layer {@code path} (O, I), with or without bias. */
    static QuantLayer linear(String path, int in, int out, boolean bias, ParamSource p, LayerFactory f) {
        return f.linear(path, p.get(path + ".weight", out, in), bias ? p.get(path + ".bias", out) : null);
    }

    /** A 32-group GroupNorm {@code path} with affine parameters. */
    static GroupNorm groupNorm(String path, int channels, float eps, ParamSource p) {
        return new GroupNorm(32, eps, p.get(path + ".weight", channels), p.get(path + ".bias", channels));
    }

    /** SiLU(x) = x·sigmoid(x) (nn.SiLU), a new array. */
    static NDArray silu(NDArray x) {
        return Activation.sigmoid(x).muli(x);
    }

    /** F.interpolate(x, scale_factor=2, mode="nearest") on (N, C, H, W). */
    static NDArray upsampleNearest(NDArray x) {
        return x.repeat(2, 2).repeat(3, 2);
    }

    /** nn.AvgPool2d(kernel_size=2, stride=2) on (N, C, H, W). */
    static NDArray avgPool(NDArray x) {
        return Pool.avgPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false, true);
    }
}
