package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.models.NoiseModel;

/**
 * Runs a {@link Sampler} from x_T to x_0 with a {@link NoiseModel}. Each step's temporaries live in a
 * sub-manager closed at the end of the step, so a 1000-step run keeps native memory flat; only the
 * current x survives a step. With a {@link RuntimeNoiseEstimator} every step goes through it (bias
 * correction, and at its schedule's steps one extra model evaluation and a recomputed step).
 */
public final class SamplingLoop {
    /** Receives progress after every step. */
    @FunctionalInterface
    public interface Progress {
        /**
         * @param done steps done
         * @param total steps in all
         */
        void step(int done, int total);
    }

    private final NoiseModel model;
    private final Sampler sampler;
    private final StepHook hook;
    private final RuntimeNoiseEstimator estimator;

    /**
     * Step noise (η > 0, DDPM) is drawn from the engine's random generator, like the reference's
     * {@code torch.randn_like}: seed it once with {@code Engine.getInstance().setRandomSeed} for a
     * reproducible run.
     *
     * @param model the noise model
     * @param sampler the update rule
     * @param hook observes/corrects steps ({@link StepHook#NONE} for none)
     */
    public SamplingLoop(NoiseModel model, Sampler sampler, StepHook hook) {
        this(model, sampler, hook, null);
    }

    /**
     * @param model the noise model
     * @param sampler the update rule
     * @param hook observes/corrects steps ({@link StepHook#NONE} for none); its {@code correctEps} runs
     *     before the estimator, its {@code afterStep} sees the corrected ε and the final step output
     * @param estimator runtime noise estimation built on the same model, or null for none; each
     *     {@link #run} is one trajectory of it
     */
    public SamplingLoop(NoiseModel model, Sampler sampler, StepHook hook, RuntimeNoiseEstimator estimator) {
        this.model = model;
        this.sampler = sampler;
        this.hook = hook;
        this.estimator = estimator;
    }

    /**
     * @param xT the start x_T (N, C, H, W) float32; not modified
     * @param progress progress callback (may be null)
     * @return x_0, attached to xT's manager
     */
    public NDArray run(NDArray xT, Progress progress) {
        NDManager caller = xT.getManager();
        NDArray x = xT.duplicate();
        int n = sampler.numSteps();
        long batch = xT.getShape().get(0);
        if (estimator != null) {
            estimator.startTrajectory();
        }
        for (int i = 0; i < n; i++) {
            try (NDManager step = caller.newSubManager()) {
                x.attach(step);
                int t = sampler.t(i);
                NDArray ts = step.full(new Shape(batch), t, DataType.INT64);
                NDArray eps = model.forward(x, ts);
                eps = hook.correctEps(i, t, x, eps);
                NDArray noise = sampler.needsNoise(i) ? step.randomNormal(x.getShape()) : null;
                Sampler.StepOutput out;
                if (estimator == null) {
                    out = sampler.step(eps, i, x, noise);
                } else {
                    RuntimeNoiseEstimator.CorrectedStep c = estimator.step(sampler, i, x, eps, noise);
                    out = c.out();
                    eps = c.eps();
                }
                hook.afterStep(i, t, x, eps, out);
                NDArray next = out.prev();
                next.attach(caller);
                x = next;
            }
            if (progress != null) {
                progress.step(i + 1, n);
            }
        }
        return x;
    }
}
