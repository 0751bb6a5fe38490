package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * latent-diffusion's {@code SpatialTransformer}: x_in = x; x = proj_in(norm(x)) (GroupNorm with 32
 * groups and eps 1e-6, then a 1x1 conv to heads·dim_head channels); the H·W positions become tokens
 * for {@code transformer_blocks.0..depth−1} ({@link BasicTransformerBlock}); back to (N, inner, H, W),
 * proj_out (1x1 conv) and the residual x_in.
 */
public final class SpatialTransformer implements UNetLayer {
    private final String path;
    private final GroupNorm norm;
    private final QuantLayer projIn;
    private final List<BasicTransformerBlock> blocks = new ArrayList<>();
    private final QuantLayer projOut;
    private final int inner;

    /**
     * @param path key path, e.g. {@code middle_block.1}
     * @param channels input channels
     * @param heads heads
     * @param dimHead width per head
     * @param depth number of transformer blocks
     * @param contextDim width of the context
     * @param params parameter source
     * @param layers layer factory
     * @param manager owner of the attention quantizers
     */
    SpatialTransformer(String path, int channels, int heads, int dimHead, int depth, int contextDim, ParamSource params,
            LayerFactory layers, NDManager manager) {
        this.path = path;
        this.inner = heads * dimHead;
        this.norm = LdmLayers.groupNorm(path + ".norm", channels, LdmLayers.TRANSFORMER_NORM_EPS, params);
        this.projIn = LdmLayers.conv2d(path + ".proj_in", channels, inner, 1, 1, 0, 0, params, layers);
        for (int d = 0; d < depth; d++) {
            blocks.add(new BasicTransformerBlock(path + ".transformer_blocks." + d, inner, heads, dimHead, contextDim,
                    params, layers, manager));
        }
        this.projOut = LdmLayers.conv2d(path + ".proj_out", inner, channels, 1, 1, 0, 0, params, layers);
    }

    /**
     * @param x (N, C, H, W)
     * @param embAct unused
     * @param context (N, L, context_dim)
     * @return x + transformer(x), in x's manager
     */
    @Override
    public NDArray forward(NDArray x, NDArray embAct, NDArray context) {
        long n = x.getShape().get(0);
        long h = x.getShape().get(2);
        long w = x.getShape().get(3);
        NDArray tokens = projIn.forward(norm.forward(x)).reshape(n, inner, h * w).transpose(0, 2, 1);
        for (BasicTransformerBlock b : blocks) {
            tokens = b.forward(tokens, context);
        }
        NDArray back = tokens.transpose(0, 2, 1).reshape(n, inner, h, w);
        return projOut.forward(back).addi(x);
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return the transformer blocks */
    public List<BasicTransformerBlock> transformerBlocks() {
        return Collections.unmodifiableList(blocks);
    }

    /** @return proj_in */
    public QuantLayer projIn() {
        return projIn;
    }

    /** @return proj_out */
    public QuantLayer projOut() {
        return projOut;
    }
}
