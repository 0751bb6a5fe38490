/**
 * Samplers (one update rule per class: DDIM generalized steps, DDPM ancestral steps), timestep
 * sequences, the sampling loop and its per-step hook.
 */
package dev.qncd.models.sampling;
