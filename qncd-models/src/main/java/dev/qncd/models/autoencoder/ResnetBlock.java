package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * The autoencoder's {@code ResnetBlock} ({@code temb_channels = 0}, so no time embedding):
 * h = conv1(swish(GN1(x))); h = conv2(swish(GN2(h))); out = shortcut(x) + h, with a 1x1
 * {@code nin_shortcut} when the channel count changes. Dropout is the identity at inference.
 */
public final class ResnetBlock {
    private final String path;
    private final GroupNorm norm1;
    private final QuantLayer conv1;
    private final GroupNorm norm2;
    private final QuantLayer conv2;
    private final QuantLayer ninShortcut;

    ResnetBlock(String path, int in, int out, ParamSource p, LayerFactory f) {
        this.path = path;
        this.norm1 = Layers.normalize(path + ".norm1", in, p);
        this.conv1 = Layers.conv(path + ".conv1", in, out, 3, 1, 1, p, f);
        this.norm2 = Layers.normalize(path + ".norm2", out, p);
        this.conv2 = Layers.conv(path + ".conv2", out, out, 3, 1, 1, p, f);
        this.ninShortcut = in == out ? null : Layers.conv(path + ".nin_shortcut", in, out, 1, 1, 0, p, f);
    }

    /**
     * @param x (N, in, H, W)
     * @return (N, out, H, W), in x's manager
     */
    public NDArray forward(NDArray x) {
        NDArray h = conv1.forward(Layers.swish(norm1.forward(x)));
        h = conv2.forward(Layers.swish(norm2.forward(h)));
        return h.addi(ninShortcut == null ? x : ninShortcut.forward(x));
    }

    /** @return the key path, e.g. {@code decoder.up.0.block.1} */
    public String path() {
        return path;
    }
}
