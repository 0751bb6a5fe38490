package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/** The building bricks of {@code ldm/modules/diffusionmodules/model.py}, by original key path. */
final class Layers {
    private Layers() {}

    /** {@code torch.nn.Conv2d(in, out, k, stride, pad)} loaded from {@code path.weight}/{@code path.bias}. */
    static QuantLayer conv(String path, int in, int out, int k, int stride, int pad, ParamSource p, LayerFactory f) {
        return f.conv2d(path, p.get(path + ".weight", out, in, k, k), p.get(path + ".bias", out), stride, pad, 0);
    }

    /** {@code Normalize}: GroupNorm with 32 groups, eps 1e-6, affine. */
    static GroupNorm normalize(String path, int channels, ParamSource p) {
        return new GroupNorm(32, 1e-6f, p.get(path + ".weight", channels), p.get(path + ".bias", channels));
    }

    /** {@code nonlinearity}: swish x·σ(x). */
    static NDArray swish(NDArray x) {
        return Activation.sigmoid(x).muli(x);
    }
}
