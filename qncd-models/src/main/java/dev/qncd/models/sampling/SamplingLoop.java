package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.models.NoiseModel;
import java.util.function.LongSupplier;

/**
 * Runs a {@link Sampler} from x_T to x_0 with a {@link NoiseModel}. Each step's temporaries live in a
 * sub-manager closed at the end of the step, so a 1000-step run keeps native memory flat; only the
 * current x survives a step.
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
    private final LongSupplier noiseSeeds;

    /**
     * @param model the noise model
     * @param sampler the update rule
     * @param hook observes/corrects steps ({@link StepHook#NONE} for none)
     * @param noiseSeeds yields a seed per noise draw (the loop draws N(0, I) with DJL's engine RNG seeded
     *     from it, so a run is reproducible in Java; it cannot reproduce PyTorch's Python RNG stream)
     */
    public SamplingLoop(NoiseModel model, Sampler sampler, StepHook hook, LongSupplier noiseSeeds) {
        this.model = model;
        this.sampler = sampler;
        this.hook = hook;
        this.noiseSeeds = noiseSeeds;
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
        for (int i = 0; i < n; i++) {
            try (NDManager step = caller.newSubManager()) {
                x.attach(step);
                int t = sampler.t(i);
                NDArray ts = step.full(new Shape(batch), t, DataType.INT64);
                NDArray eps = model.forward(x, ts);
                eps = hook.correctEps(i, t, x, eps);
                NDArray noise = sampler.needsNoise(i) ? gaussian(step, x.getShape()) : null;
                Sampler.StepOutput out = sampler.step(eps, i, x, noise);
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

    private NDArray gaussian(NDManager m, Shape shape) {
        ai.djl.engine.Engine.getInstance().setRandomSeed((int) noiseSeeds.getAsLong());
        return m.randomNormal(shape);
    }
}
