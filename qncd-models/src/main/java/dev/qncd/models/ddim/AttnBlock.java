package dev.qncd.models.ddim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * DDIM's {@code AttnBlock}: single-head self-attention over the H·W positions with 1x1 convolutions
 * q, k, v and proj_out: w = softmax(qᵀk · C^−½) over keys, h = v·wᵀ, out = x + proj_out(h). The two
 * matmuls go through a {@link QuantAttentionMatmul} (scale applied after q·kᵀ, as Q-Diffusion's
 * {@code QuantAttnBlock}).
 */
public final class AttnBlock {
    private final String path;
    private final GroupNorm norm;
    private final QuantLayer q;
    private final QuantLayer k;
    private final QuantLayer v;
    private final QuantLayer projOut;
    private final QuantAttentionMatmul attention;
    private final float scale;

    AttnBlock(String path, int channels, ParamSource params, LayerFactory layers, NDManager manager) {
        this.path = path;
        this.norm = DdimUNet.groupNorm(path + ".norm", channels, params);
        this.q = DdimUNet.conv(path + ".q", channels, channels, 1, 1, 0, 0, params, layers);
        this.k = DdimUNet.conv(path + ".k", channels, channels, 1, 1, 0, 0, params, layers);
        this.v = DdimUNet.conv(path + ".v", channels, channels, 1, 1, 0, 0, params, layers);
        this.projOut = DdimUNet.conv(path + ".proj_out", channels, channels, 1, 1, 0, 0, params, layers);
        this.attention = layers.attention(path, manager);
        this.scale = (float) Math.pow(channels, -0.5);
    }

    /**
     * @param x (N, C, H, W)
     * @return x + attention(x), in x's manager
     */
    public NDArray forward(NDArray x) {
        long n = x.getShape().get(0);
        long c = x.getShape().get(1);
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        NDArray hn = norm.forward(x);
        NDArray qs = q.forward(hn).reshape(n, c, h * w).transpose(0, 2, 1);
        NDArray ks = k.forward(hn).reshape(n, c, h * w).transpose(0, 2, 1);
        NDArray vs = v.forward(hn).reshape(n, c, h * w).transpose(0, 2, 1);
        NDArray att = attention.forward(qs, ks, vs, scale); // (N, HW, C)
        NDArray out = projOut.forward(att.transpose(0, 2, 1).reshape(n, c, h, w));
        return out.addi(x);
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return the attention matmul */
    public QuantAttentionMatmul attention() {
        return attention;
    }
}
