package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * The autoencoder's vanilla {@code AttnBlock}: single-head self-attention over the H·W positions with
 * 1x1 convolutions q, k, v, proj_out on GN(x): w = softmax(qᵀk · C^−½) over keys, h = v·wᵀ,
 * out = x + proj_out(h). The two matmuls go through a {@link QuantAttentionMatmul} (off unless
 * quantization enables it).
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

    AttnBlock(String path, int channels, ParamSource p, LayerFactory f, NDManager manager) {
        this.path = path;
        this.norm = Layers.normalize(path + ".norm", channels, p);
        this.q = Layers.conv(path + ".q", channels, channels, 1, 1, 0, p, f);
        this.k = Layers.conv(path + ".k", channels, channels, 1, 1, 0, p, f);
        this.v = Layers.conv(path + ".v", channels, channels, 1, 1, 0, p, f);
        this.projOut = Layers.conv(path + ".proj_out", channels, channels, 1, 1, 0, p, f);
        this.attention = f.attention(path, manager);
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
        return projOut.forward(att.transpose(0, 2, 1).reshape(n, c, h, w)).addi(x);
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
