package dev.qncd.eval.io;

import ai.djl.ndarray.NDArray;
import dev.qncd.eval.features.Features;
import dev.qncd.eval.metrics.GaussianStats;

/**
 * One side of an evaluation as read from disk: images to featurise, features computed earlier, and/or
 * precomputed statistics (an ADM reference batch's {@code mu}/{@code sigma}, {@code mu_s}/{@code sigma_s}).
 *
 * @param source the path, for messages
 * @param images {@code N x H x W x 3} uint8, or null
 * @param features precomputed features, or null
 * @param poolStats precomputed pool statistics, or null
 * @param spatialStats precomputed spatial statistics, or null
 */
public record EvalInput(String source, NDArray images, Features features, GaussianStats poolStats,
        GaussianStats spatialStats) {}
