package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;

/**
 * Observes or corrects each step of a sampling loop: calibration-data capture records (x_t, t);
 * runtime noise estimation corrects ε. Arrays passed in belong to the step and are closed after it:
 * copy what must outlive the step.
 */
public interface StepHook {
    /** A hook that does nothing. */
    StepHook NONE = new StepHook() {};

    /**
     * Called with the model's prediction before the update; returns the ε the update uses.
     *
     * @param index step index (0 = noisiest)
     * @param t the timestep
     * @param x x_t
     * @param eps the model's prediction
     * @return ε for the update (eps itself to leave it unchanged)
     */
    default NDArray correctEps(int index, int t, NDArray x, NDArray eps) {
        return eps;
    }

    /**
     * Called after the update.
     *
     * @param index step index
     * @param t the timestep of x
     * @param x x_t
     * @param eps the ε the update used
     * @param out the step's result
     */
    default void afterStep(int index, int t, NDArray x, NDArray eps, Sampler.StepOutput out) {}
}
