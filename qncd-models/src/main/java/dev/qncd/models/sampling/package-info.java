/**
 * Samplers (one update rule per class: DDIM generalized steps, DDPM ancestral steps), timestep
 * sequences, the sampling loop and its per-step hook, and QNCD's runtime noise estimation
 * ({@link dev.qncd.models.sampling.RuntimeNoiseEstimator}), which corrects any sampler's noise predictions.
 */
package dev.qncd.models.sampling;
