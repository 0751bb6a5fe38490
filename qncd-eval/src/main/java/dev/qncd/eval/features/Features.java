package dev.qncd.eval.features;

import ai.djl.ndarray.NDArray;

/**
 * The outputs of a feature extractor for a set of images; any may be absent ({@code null}), and the
 * metrics that need it are then skipped.
 *
 * @param pool pooled features {@code N x D} (FID, precision/recall; Inception: pool3, D = 2048)
 * @param spatial flattened spatial features {@code N x S} (sFID; Inception: first 7 channels of mixed_6/conv)
 * @param logits classifier logits {@code N x C} (Inception Score)
 */
public record Features(NDArray pool, NDArray spatial, NDArray logits) {
    /** @return the number of images, from the first present output (0 when none) */
    public long count() {
        NDArray a = pool != null ? pool : spatial != null ? spatial : logits;
        return a == null ? 0 : a.getShape().get(0);
    }
}
