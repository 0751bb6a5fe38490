package dev.qncd.models;

import ai.djl.ndarray.NDArray;

/** A diffusion model's noise prediction ε(x_t, t), the one call a sampler makes. */
@FunctionalInterface
public interface NoiseModel {
    /**
     * @param x the noisy batch x_t (N, C, H, W)
     * @param t the timesteps (N)
     * @return ε (N, C, H, W), attached to x's manager
     */
    NDArray forward(NDArray x, NDArray t);
}
