package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;

/**
 * One member of the reference's {@code TimestepEmbedSequential}: residual blocks take the time
 * embedding, spatial transformers the context, every other layer only x.
 */
interface UNetLayer {
    /**
     * @param x the features (N, C, H, W)
     * @param embAct SiLU of the time (and class) embedding, (N, 4·model_channels)
     * @param context the cross-attention context (N, L, context_dim), or null
     * @return the layer's output, in x's manager
     */
    NDArray forward(NDArray x, NDArray embAct, NDArray context);
}
