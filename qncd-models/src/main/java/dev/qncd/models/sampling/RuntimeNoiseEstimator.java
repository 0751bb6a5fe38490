package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.models.NoiseModel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QNCD's runtime noise estimation (inter-step quantization noise; the reference's
 * {@code PLMSSampler.sample_reverse} and its use in {@code p_sample_plms}, flags
 * {@code --sample_reverse --reverse_interval k}).
 *
 * <p>At the step counts n (1-based, per trajectory) with (n − 2) mod k = ⌊k/2⌋ (Python's modulo, so
 * n = 1 qualifies for k ≤ 2):
 * <ol>
 *   <li>the bias μ and std s are reset to 0 and the step is computed once with the raw prediction ε:
 *       x_{t−1};</li>
 *   <li>x_{t−1} is re-noised back to t with fresh z ~ N(0, I), f = ᾱ_t/ᾱ_{t−1} (the step's own a_t and
 *       a_prev): x̂_t = √f·x_{t−1} + √(1 − f)·z;</li>
 *   <li>the model predicts ε̂ = ε_θ(x̂_t, t) and μ = mean(ε̂ − z), s = std(ε̂ − z), both over every
 *       element of the batch (one scalar each, as the reference's {@code torch.mean}/{@code torch.std});</li>
 *   <li>the step is recomputed with ε − μ (same step noise).</li>
 * </ol>
 * Every other step uses ε − μ with the latest μ (0 before the first estimate). With
 * {@link NoiseEstimationConfig#varianceCorrection()} the injected noise σ·z' of the step becomes
 * max(σ − s/4, 0)·z' (the reference's formula, which it disables by setting s to 0).
 *
 * <p>The model must be the one the sampler uses, including classifier-free guidance: pass the guided
 * prediction ε_u + w·(ε_c − ε_u) as the {@link NoiseModel}, as the reference estimates on it.
 * Single-step samplers use {@link #step(Sampler, int, NDArray, NDArray, NDArray)}; a multistep sampler
 * (PLMS) passes a {@link StepFunction} that combines the given ε with its history, and stores the
 * returned {@link CorrectedStep#eps()} in that history, as the reference stores the corrected e_t.
 *
 * <p>State (μ, s, the estimates) lives for a whole run: call {@link #startTrajectory()} before each
 * batch. Not thread-safe. Every temporary of an estimate is scoped; only Java numbers are kept between
 * steps.
 */
public final class RuntimeNoiseEstimator {
    /** The reference divides the estimated std by 4 before subtracting it from the step's σ. */
    public static final float REFERENCE_STD_DIVISOR = 4f;

    private static final Logger LOG = LoggerFactory.getLogger(RuntimeNoiseEstimator.class);

    /** Draws the re-noising z ~ N(0, I); tests inject recorded noise. */
    @FunctionalInterface
    public interface NoiseSource {
        /**
         * @param manager where the array lives
         * @param shape its shape
         * @return standard normal noise, float32
         */
        NDArray normal(NDManager manager, Shape shape);
    }

    /** Computes the current step from a given ε (the sampler's update with everything else fixed). */
    @FunctionalInterface
    public interface StepFunction {
        /**
         * @param eps the noise prediction to use
         * @param noiseFactor factor on the step's injected noise (1 leaves it unchanged; below 1 with
         *     the variance correction)
         * @return the step's result
         */
        Sampler.StepOutput apply(NDArray eps, float noiseFactor);
    }

    /**
     * Where a step stands.
     *
     * @param index step index in the trajectory, 0 = noisiest
     * @param t the timestep the model is evaluated at
     * @param tPrev the step's target timestep (−1 after the last)
     * @param alphaBar ᾱ at t (a_t)
     * @param alphaBarPrev ᾱ at the target (a_prev)
     * @param noiseStd σ of the noise the step injects (0 for deterministic steps)
     */
    public record StepInfo(int index, int t, int tPrev, float alphaBar, float alphaBarPrev, double noiseStd) {
        /**
         * @param sampler the sampler
         * @param index the step
         * @return the step's description from the sampler
         */
        public static StepInfo of(Sampler sampler, int index) {
            return new StepInfo(index, sampler.t(index), sampler.tPrev(index), sampler.alphaBar(index),
                    sampler.alphaBarPrev(index), sampler.noiseStd(index));
        }
    }

    /**
     * The result of a step.
     *
     * @param out the step's output (x_prev, x̂_0)
     * @param eps the ε the output was computed with (the corrected prediction)
     * @param estimate the estimate made at this step, or null
     */
    public record CorrectedStep(Sampler.StepOutput out, NDArray eps, NoiseEstimate estimate) {}

    private final NoiseEstimationConfig config;
    private final NoiseModel model;
    private final NoiseSource source;
    private final List<NoiseEstimate> estimates = new ArrayList<>();
    private int batch = -1;
    private float mean;
    private float std;

    /**
     * Draws z from the engine's random generator (seed it with {@code Engine.setRandomSeed}).
     *
     * @param config the settings
     * @param model the noise model the sampler uses (guided, when guidance is used)
     */
    public RuntimeNoiseEstimator(NoiseEstimationConfig config, NoiseModel model) {
        this(config, model, NDManager::randomNormal);
    }

    /**
     * @param config the settings
     * @param model the noise model the sampler uses
     * @param source where z comes from
     */
    public RuntimeNoiseEstimator(NoiseEstimationConfig config, NoiseModel model, NoiseSource source) {
        this.config = java.util.Objects.requireNonNull(config, "config");
        this.model = java.util.Objects.requireNonNull(model, "model");
        this.source = java.util.Objects.requireNonNull(source, "source");
    }

    /**
     * The reference's schedule: an estimate at step count n (1-based) when (n − 2) mod k = ⌊k/2⌋, with
     * Python's (floor) modulo.
     *
     * @param stepCount n, 1 for the first step
     * @param interval k ≥ 1
     * @return whether step n estimates
     */
    public static boolean isEstimationStep(int stepCount, int interval) {
        return Math.floorMod(stepCount - 2, interval) == interval / 2;
    }

    /**
     * @param steps steps in a trajectory
     * @param interval k
     * @return the 0-based indices of the steps that estimate
     */
    public static int[] estimationSteps(int steps, int interval) {
        return java.util.stream.IntStream.range(0, steps).filter(i -> isEstimationStep(i + 1, interval)).toArray();
    }

    /** @return the settings */
    public NoiseEstimationConfig config() {
        return config;
    }

    /**
     * Starts a trajectory (a batch): step indices restart at 0; μ and s are kept (the reference) unless
     * {@link NoiseEstimationConfig#resetPerBatch()}.
     */
    public void startTrajectory() {
        batch++;
        if (config.resetPerBatch()) {
            mean = 0f;
            std = 0f;
        }
    }

    /**
     * @param index the step index in the trajectory
     * @return whether this step estimates
     */
    public boolean estimatesAt(int index) {
        return isEstimationStep(index + 1, config.interval());
    }

    /** @return the bias μ subtracted from predictions now */
    public float mean() {
        return mean;
    }

    /** @return the latest std s (0 before the first estimate) */
    public float std() {
        return std;
    }

    /** @return every estimate so far, in order */
    public List<NoiseEstimate> estimates() {
        return Collections.unmodifiableList(estimates);
    }

    /**
     * The factor on the step's injected noise: (σ − s/4)/σ clamped at 0 with the variance correction,
     * else 1.
     *
     * @param sigma the step's σ
     * @return the factor in [0, 1]
     */
    public float noiseFactor(double sigma) {
        if (!config.varianceCorrection() || sigma <= 0 || std == 0f) {
            return 1f;
        }
        return (float) (Math.max(sigma - std / REFERENCE_STD_DIVISOR, 0) / sigma);
    }

    /**
     * One step of a single-step sampler with runtime noise estimation.
     *
     * @param sampler the sampler
     * @param index the step
     * @param x x_t
     * @param eps the model's raw prediction at x_t
     * @param noise the step's noise (null when it injects none); reused when the step is recomputed
     * @return the step's result and the ε it used, both in x's manager
     */
    public CorrectedStep step(Sampler sampler, int index, NDArray x, NDArray eps, NDArray noise) {
        return step(StepInfo.of(sampler, index), x, eps,
                (e, factor) -> sampler.step(e, index, x, noise == null || factor == 1f ? noise : noise.mul(factor)));
    }

    /**
     * One step with runtime noise estimation, for any sampler (see the class comment).
     *
     * @param info the step
     * @param x x_t
     * @param eps the model's raw prediction at x_t
     * @param fn computes the step from an ε
     * @return the step's result and the ε it used; arrays in x's manager
     */
    public CorrectedStep step(StepInfo info, NDArray x, NDArray eps, StepFunction fn) {
        requireStarted();
        if (!estimatesAt(info.index())) {
            NDArray e = mean == 0f ? eps : eps.sub(mean);
            return new CorrectedStep(fn.apply(e, noiseFactor(info.noiseStd())), e, null);
        }
        mean = 0f; // the reference resets μ and s before the estimating step
        std = 0f;
        NoiseEstimate estimate;
        try (NDManager discard = x.getManager().newSubManager()) {
            Sampler.StepOutput first = fn.apply(eps, 1f);
            release(first.prev(), x, eps, discard);
            release(first.x0(), x, eps, discard);
            estimate = estimate(info, first.prev());
        }
        NDArray e = eps.sub(mean);
        return new CorrectedStep(fn.apply(e, noiseFactor(info.noiseStd())), e, estimate);
    }

    /**
     * Estimates μ and s from x_{t−1} (steps 2 and 3 of the class comment), makes them the current
     * correction and records them. Costs one model evaluation.
     *
     * @param info the step that produced xPrev
     * @param xPrev x_{t−1}, computed with the uncorrected prediction; not modified
     * @return the estimate
     */
    public NoiseEstimate estimate(StepInfo info, NDArray xPrev) {
        requireStarted();
        float f = info.alphaBar() / info.alphaBarPrev();
        float mu;
        float s;
        try (NDManager scope = xPrev.getManager().newSubManager()) {
            xPrev.tempAttach(scope); // results of ops on xPrev land in the scope; xPrev goes back after
            NDArray z = source.normal(scope, xPrev.getShape());
            NDArray renoised = xPrev.mul((float) Math.sqrt(f)).addi(z.mul((float) Math.sqrt(1f - f)));
            NDArray ts = scope.full(new Shape(xPrev.getShape().get(0)), info.t(), DataType.INT64);
            NDArray residual = model.forward(renoised, ts).sub(z);
            mu = residual.mean().getFloat();
            long n = residual.size();
            s = n > 1 ? (float) Math.sqrt(residual.sub(mu).square().sum().getFloat() / (n - 1)) : 0f;
        }
        mean = mu;
        std = s;
        NoiseEstimate e = new NoiseEstimate(batch, info.index(), info.t(), info.tPrev(), mu, s);
        estimates.add(e);
        LOG.debug("noise estimate, batch {} step {} (t = {}): mean {}, std {}", batch, info.index(), info.t(), mu, s);
        return e;
    }

    private void requireStarted() {
        if (batch < 0) {
            throw new IllegalStateException("call startTrajectory() before the first step of a trajectory");
        }
    }

    /** Frees an array of the discarded uncorrected step early, unless it is one of the step's inputs. */
    private static void release(NDArray a, NDArray x, NDArray eps, NDManager discard) {
        if (a != null && a != x && a != eps) {
            a.attach(discard);
        }
    }
}
