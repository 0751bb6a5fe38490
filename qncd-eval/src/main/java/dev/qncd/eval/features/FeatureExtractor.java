package dev.qncd.eval.features;

import ai.djl.ndarray.NDArray;

/**
 * A network that turns images into the features the metrics compare. Implementations: the
 * Inception-v3 of pytorch-fid (FID as papers report it) or a domain's own classifier.
 */
public interface FeatureExtractor extends AutoCloseable {
    /** @return a stable identifier (name + weights digest) used to key cached statistics */
    String id();

    /**
     * Featurises one batch.
     *
     * @param images {@code N x H x W x 3} uint8 in [0, 255] (ADM's layout)
     * @return the outputs, attached to {@code images}' manager; absent outputs are {@code null}
     */
    Features extract(NDArray images);

    @Override
    default void close() {}
}
