package dev.qncd.models.sampling;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * One runtime noise estimate (a row of the run report).
 *
 * @param batch the trajectory (batch) it was made in, 0-based, counted by {@link RuntimeNoiseEstimator#startTrajectory}
 * @param step the step index in the trajectory, 0 for the noisiest (the reference's step count is step + 1)
 * @param t the timestep the model was evaluated at
 * @param tPrev the step's target timestep (−1 after the last step)
 * @param mean μ = mean(ε̂ − z) over every element of the batch, the bias subtracted from later predictions
 * @param std s = std(ε̂ − z) (Bessel-corrected, as torch.std) over every element
 */
@JsonPropertyOrder({"batch", "step", "t", "t_prev", "mean", "std"})
public record NoiseEstimate(int batch, int step, int t, @JsonProperty("t_prev") int tPrev, float mean, float std) {}
