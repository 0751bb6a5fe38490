package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;

/**
 * One reverse-diffusion update rule: given x_t and the model's ε at step {@code index} of
 * {@link #timesteps()} (visited from the last entry to the first), computes x_{t_prev}.
 */
public interface Sampler {
    /** @return the ascending timestep sequence; step i evaluates the model at timesteps()[n−1−i] */
    int[] timesteps();

    /**
     * @param eps the (possibly corrected) noise prediction at x
     * @param index the step, 0 for the first (noisiest) one
     * @param x x_t
     * @param noise N(0, I) of x's shape, or null when the rule injects no noise at this step
     * @return x_{t_prev} and the x_0 prediction, in x's manager
     */
    StepOutput step(NDArray eps, int index, NDArray x, NDArray noise);

    /**
     * @param index the step
     * @return whether {@link #step} at this index uses fresh noise
     */
    boolean needsNoise(int index);

    /**
     * @param index the step
     * @return ᾱ at the timestep the model is evaluated at in this step (the step's "a_t")
     */
    float alphaBar(int index);

    /**
     * @param index the step
     * @return ᾱ at the step's target timestep (the step's "a_prev"; 1 after the last step in DDIM's
     *     convention)
     */
    float alphaBarPrev(int index);

    /**
     * The standard deviation σ of the noise this rule injects at the step: x_prev = ... + σ·z
     * (DDIM: c1 = η·√(...); DDPM: √β or the posterior std; 0 where {@link #needsNoise} is false).
     * Runtime noise estimation's variance correction scales the injected noise relative to it.
     *
     * @param index the step
     * @return σ ≥ 0
     */
    double noiseStd(int index);

    /**
     * @param index the step
     * @return the timestep the model is evaluated at in this step
     */
    default int t(int index) {
        int[] seq = timesteps();
        return seq[seq.length - 1 - index];
    }

    /**
     * @param index the step
     * @return the timestep of the step's result (−1 after the last step)
     */
    default int tPrev(int index) {
        int[] seq = timesteps();
        int k = seq.length - 1 - index;
        return k == 0 ? -1 : seq[k - 1];
    }

    /** @return the number of steps */
    default int numSteps() {
        return timesteps().length;
    }

    /**
     * The result of one step.
     *
     * @param prev x_{t_prev}
     * @param x0 the prediction of x_0
     */
    record StepOutput(NDArray prev, NDArray x0) {}
}
