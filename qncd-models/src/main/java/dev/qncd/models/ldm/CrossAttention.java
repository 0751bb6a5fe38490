package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * latent-diffusion's {@code CrossAttention} (ldm/modules/attention.py): q = to_q(x), k = to_k(c),
 * v = to_v(c) (no biases) with c the context, or x itself for self-attention; per head of width d,
 * softmax(q·kᵀ·d^−½)·v; heads merged and projected by {@code to_out.0}. The matmuls go through a
 * {@link QuantAttentionMatmul} with the scale after q·kᵀ (Q-Diffusion's {@code cross_attn_forward}
 * in {@code QuantBasicTransformerBlock}).
 */
public final class CrossAttention {
    private final String path;
    private final int heads;
    private final int dimHead;
    private final QuantLayer toQ;
    private final QuantLayer toK;
    private final QuantLayer toV;
    private final QuantLayer toOut;
    private final QuantAttentionMatmul attention;

    /**
     * @param path key path, e.g. {@code middle_block.1.transformer_blocks.0.attn2}
     * @param queryDim width of x
     * @param contextDim width of the context (queryDim for self-attention)
     * @param heads number of heads
     * @param dimHead width per head
     * @param params parameter source
     * @param layers layer factory
     * @param manager owner of the attention quantizers
     */
    CrossAttention(String path, int queryDim, int contextDim, int heads, int dimHead, ParamSource params,
            LayerFactory layers, NDManager manager) {
        this.path = path;
        this.heads = heads;
        this.dimHead = dimHead;
        int inner = heads * dimHead;
        this.toQ = LdmLayers.linear(path + ".to_q", queryDim, inner, false, params, layers);
        this.toK = LdmLayers.linear(path + ".to_k", contextDim, inner, false, params, layers);
        this.toV = LdmLayers.linear(path + ".to_v", contextDim, inner, false, params, layers);
        this.toOut = LdmLayers.linear(path + ".to_out.0", inner, queryDim, true, params, layers);
        this.attention = layers.attention(path, manager, QuantAttentionMatmul.ScalePlacement.AFTER_QK);
    }

    /**
     * @param x (B, N, queryDim)
     * @param context (B, M, contextDim), or null for self-attention
     * @return (B, N, queryDim), in x's manager
     */
    public NDArray forward(NDArray x, NDArray context) {
        NDArray c = context == null ? x : context;
        NDArray q = splitHeads(toQ.forward(x));
        NDArray k = splitHeads(toK.forward(c));
        NDArray v = splitHeads(toV.forward(c));
        NDArray out = attention.forward(q, k, v, (float) Math.pow(dimHead, -0.5)); // (B·h, N, d)
        long b = x.getShape().get(0);
        long n = x.getShape().get(1);
        // '(b h) n d -> b n (h d)'
        NDArray merged = out.reshape(b, heads, n, dimHead).transpose(0, 2, 1, 3).reshape(b, n, (long) heads * dimHead);
        return toOut.forward(merged);
    }

    /** 'b n (h d) -> (b h) n d'. */
    private NDArray splitHeads(NDArray t) {
        long b = t.getShape().get(0);
        long n = t.getShape().get(1);
        return t.reshape(b, n, heads, dimHead).transpose(0, 2, 1, 3).reshape(b * heads, n, dimHead);
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return the number of heads */
    public int heads() {
        return heads;
    }

    /** @return the width per head */
    public int dimHead() {
        return dimHead;
    }

    /** @return the attention matmul (key path = this attention's path) */
    public QuantAttentionMatmul attention() {
        return attention;
    }

    /** @return to_q */
    public QuantLayer toQ() {
        return toQ;
    }

    /** @return to_k */
    public QuantLayer toK() {
        return toK;
    }

    /** @return to_v */
    public QuantLayer toV() {
        return toV;
    }

    /** @return to_out.0 */
    public QuantLayer toOut() {
        return toOut;
    }
}
