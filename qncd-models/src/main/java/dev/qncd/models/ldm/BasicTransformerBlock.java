package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * latent-diffusion's {@code BasicTransformerBlock}: pre-norm self-attention, cross-attention on the
 * context and a GEGLU feed forward, each with a residual:
 * <pre>
 *   x = attn1(norm1(x)) + x
 *   x = attn2(norm2(x), context) + x
 *   x = ff(norm3(x)) + x
 * </pre>
 * norm1..3 are LayerNorms (eps 1e-5). Q-Diffusion's {@code QuantBasicTransformerBlock} quantizes the
 * matmuls of attn1 and attn2 ({@link CrossAttention#attention()}).
 */
public final class BasicTransformerBlock {
    private final String path;
    private final int dim;
    private final NDArray[] norms = new NDArray[6];
    private final CrossAttention attn1;
    private final CrossAttention attn2;
    private final GegluFeedForward ff;

    /**
     * @param path key path, e.g. {@code middle_block.1.transformer_blocks.0}
     * @param dim width of the tokens
     * @param heads heads
     * @param dimHead width per head
     * @param contextDim width of the context
     * @param params parameter source
     * @param layers layer factory
     * @param manager owner of the attention quantizers
     */
    BasicTransformerBlock(String path, int dim, int heads, int dimHead, int contextDim, ParamSource params,
            LayerFactory layers, NDManager manager) {
        this.path = path;
        this.dim = dim;
        this.attn1 = new CrossAttention(path + ".attn1", dim, dim, heads, dimHead, params, layers, manager);
        this.ff = new GegluFeedForward(path + ".ff", dim, params, layers);
        this.attn2 = new CrossAttention(path + ".attn2", dim, contextDim, heads, dimHead, params, layers, manager);
        for (int i = 0; i < 3; i++) {
            norms[2 * i] = params.get(path + ".norm" + (i + 1) + ".weight", dim);
            norms[2 * i + 1] = params.get(path + ".norm" + (i + 1) + ".bias", dim);
        }
    }

    /**
     * @param x tokens (B, N, dim)
     * @param context (B, M, contextDim), or null (attn2 then attends to x)
     * @return (B, N, dim), in x's manager
     */
    public NDArray forward(NDArray x, NDArray context) {
        NDArray h = attn1.forward(layerNorm(x, 0), null).addi(x);
        h = attn2.forward(layerNorm(h, 1), context).addi(h);
        return ff.forward(layerNorm(h, 2)).addi(h);
    }

    private NDArray layerNorm(NDArray x, int i) {
        return LayerNorm.layerNorm(x, new Shape(dim), norms[2 * i], norms[2 * i + 1], LdmLayers.LAYER_NORM_EPS)
                .singletonOrThrow();
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return attn1 (self-attention) */
    public CrossAttention attn1() {
        return attn1;
    }

    /** @return attn2 (cross-attention on the context) */
    public CrossAttention attn2() {
        return attn2;
    }

    /** @return the feed forward */
    public GegluFeedForward ff() {
        return ff;
    }
}
