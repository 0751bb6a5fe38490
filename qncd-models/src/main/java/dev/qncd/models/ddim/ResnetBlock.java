package dev.qncd.models.ddim;

import ai.djl.ndarray.NDArray;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * DDIM's {@code ResnetBlock}: h = conv1(swish(GN1(x))) + temb_proj(swish(temb)); h = conv2(swish(GN2(h)));
 * out = shortcut(x) + h, with a 1x1 {@code nin_shortcut} when the channel count changes. Dropout is the
 * identity when sampling.
 */
public final class ResnetBlock {
    private final String path;
    private final GroupNorm norm1;
    private final QuantLayer conv1;
    private final QuantLayer tembProj;
    private final GroupNorm norm2;
    private final QuantLayer conv2;
    private final QuantLayer ninShortcut;

    /**
     * @param path key path, e.g. {@code down.0.block.0}
     * @param in input channels
     * @param out output channels
     * @param tembChannels time-embedding width
     * @param split channels of the first part of a concatenated input (decoder blocks), else 0; used by
     *     the 1x1 {@code nin_shortcut} only
     * @param params parameter source
     * @param layers layer factory
     */
    ResnetBlock(String path, int in, int out, int tembChannels, int split, ParamSource params, LayerFactory layers) {
        this.path = path;
        this.norm1 = DdimUNet.groupNorm(path + ".norm1", in, params);
        // Only the shortcut sees concat(h, skip) as it is: conv1 sees swish(GN1(concat)), and Q-Diffusion
        // (ddim/models/diffusion.py ResnetBlock.forward, qdiff/quant_block.py QuantResnetBlock) splits only
        // nin_shortcut.
        this.conv1 = DdimUNet.conv(path + ".conv1", in, out, 3, 1, 1, 0, params, layers);
        this.tembProj = layers.linear(path + ".temb_proj", params.get(path + ".temb_proj.weight", out, tembChannels),
                params.get(path + ".temb_proj.bias", out));
        this.norm2 = DdimUNet.groupNorm(path + ".norm2", out, params);
        this.conv2 = DdimUNet.conv(path + ".conv2", out, out, 3, 1, 1, 0, params, layers);
        this.ninShortcut = in == out ? null : DdimUNet.conv(path + ".nin_shortcut", in, out, 1, 1, 0, split, params, layers);
    }

    /**
     * @param x input (N, in, H, W)
     * @param tembAct swish(temb), (N, tembChannels)
     * @return (N, out, H, W), in x's manager
     */
    public NDArray forward(NDArray x, NDArray tembAct) {
        NDArray h = DdimUNet.swish(norm1.forward(x));
        h = conv1.forward(h);
        NDArray e = tembProj.forward(tembAct);
        h = h.addi(e.expandDims(-1).expandDims(-1));
        h = DdimUNet.swish(norm2.forward(h));
        h = conv2.forward(h);
        NDArray skip = ninShortcut == null ? x : ninShortcut.forward(x);
        return h.addi(skip);
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return conv1 */
    public QuantLayer conv1() {
        return conv1;
    }

    /** @return conv2 */
    public QuantLayer conv2() {
        return conv2;
    }

    /** @return temb_proj */
    public QuantLayer tembProj() {
        return tembProj;
    }

    /** @return norm2 (the GroupNorm that sees h + e) */
    public GroupNorm norm2() {
        return norm2;
    }

    /** @return the 1x1 shortcut or null */
    public QuantLayer ninShortcut() {
        return ninShortcut;
    }
}
