package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * The openai UNet's {@code AttentionBlock}: multi-head self-attention over the H·W positions with 1x1
 * {@code Conv1d}s, keys {@code norm} (GroupNorm32), {@code qkv} (C → 3C) and {@code proj_out}:
 * <pre>  out = x + proj_out(attention(qkv(norm(x))))</pre>
 * with per head of width c: softmax((q·c^−¼)ᵀ(k·c^−¼)) over keys, applied to v. The qkv channels are
 * read in one of the reference's two orders ({@link QkvOrder}). The matmuls go through a
 * {@link QuantAttentionMatmul} with the scale split before the matmul
 * ({@link QuantAttentionMatmul.ScalePlacement#SPLIT_BEFORE_QUANT}, Q-Diffusion's {@code QuantQKMatMul}
 * and {@code QuantSMVMatMul}, which replace QKVAttentionLegacy's {@code QKMatMul}/{@code SMVMatMul}).
 * The reference's new-order {@code QKVAttention} has no such modules, so its matmuls are never
 * quantized there: a preset that follows the reference leaves them off ({@link #qkvOrder()}).
 */
public final class LdmAttentionBlock implements UNetLayer {
    /** How the 3C channels of {@code qkv} are laid out. */
    public enum QkvOrder {
        /** QKVAttentionLegacy: (heads, [q, k, v], c) — split heads, then q, k, v (the default) */
        LEGACY,
        /** QKVAttention ({@code use_new_attention_order}): ([q, k, v], heads, c) — split q, k, v, then heads */
        NEW
    }

    private final String path;
    private final int channels;
    private final int heads;
    private final QkvOrder order;
    private final GroupNorm norm;
    private final QuantLayer qkv;
    private final QuantLayer projOut;
    private final QuantAttentionMatmul attention;

    /**
     * @param path key path, e.g. {@code middle_block.1}
     * @param channels C
     * @param heads number of heads (C divisible by it)
     * @param order the qkv layout
     * @param params parameter source
     * @param layers layer factory
     * @param manager owner of the attention quantizers
     */
    LdmAttentionBlock(String path, int channels, int heads, QkvOrder order, ParamSource params, LayerFactory layers,
            NDManager manager) {
        this.path = path;
        this.channels = channels;
        this.heads = heads;
        this.order = order;
        this.norm = LdmLayers.groupNorm(path + ".norm", channels, LdmLayers.NORMALIZATION_EPS, params);
        this.qkv = layers.conv1d(path + ".qkv", params.get(path + ".qkv.weight", 3L * channels, channels, 1),
                params.get(path + ".qkv.bias", 3L * channels));
        this.projOut = layers.conv1d(path + ".proj_out", params.get(path + ".proj_out.weight", channels, channels, 1),
                params.get(path + ".proj_out.bias", channels));
        this.attention = layers.attention(path + ".attention", manager,
                QuantAttentionMatmul.ScalePlacement.SPLIT_BEFORE_QUANT);
    }

    @Override
    public NDArray forward(NDArray x, NDArray embAct, NDArray context) {
        return forward(x);
    }

    /**
     * @param x (N, C, H, W)
     * @return x + attention(x), in x's manager
     */
    public NDArray forward(NDArray x) {
        long n = x.getShape().get(0);
        long t = x.getShape().get(2) * x.getShape().get(3);
        long c = channels / heads;
        NDArray flat = x.reshape(n, channels, t);
        NDArray qkvOut = qkv.forward(norm.forward(flat)); // (N, 3C, T)
        NDList parts = order == QkvOrder.LEGACY
                ? qkvOut.reshape(n * heads, 3 * c, t).split(3, 1)
                : qkvOut.split(3, 1);
        // (B, c, T) per part, B = N·heads; the matmul takes (B, T, c)
        NDArray q = parts.get(0).reshape(n * heads, c, t).transpose(0, 2, 1);
        NDArray k = parts.get(1).reshape(n * heads, c, t).transpose(0, 2, 1);
        NDArray v = parts.get(2).reshape(n * heads, c, t).transpose(0, 2, 1);
        NDArray a = attention.forward(q, k, v, (float) (1 / Math.sqrt(c))); // (B, T, c)
        NDArray h = projOut.forward(a.transpose(0, 2, 1).reshape(n, channels, t));
        return h.addi(flat).reshape(x.getShape());
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return the number of heads */
    public int heads() {
        return heads;
    }

    /** @return the qkv layout */
    public QkvOrder qkvOrder() {
        return order;
    }

    /** @return the attention matmul (key path {@code <path>.attention}) */
    public QuantAttentionMatmul attention() {
        return attention;
    }

    /** @return qkv */
    public QuantLayer qkv() {
        return qkv;
    }

    /** @return proj_out */
    public QuantLayer projOut() {
        return projOut;
    }
}
