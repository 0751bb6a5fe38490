package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;
import dev.qncd.models.schedule.NoiseSchedule;

/**
 * DDIM generalized steps (Song et al. 2021, eq. 12; DDIM's {@code functions/denoising.generalized_steps}):
 * x̂_0 = (x_t − √(1 − ᾱ_t)·ε) / √ᾱ_t,
 * c1 = η·√((1 − ᾱ_t/ᾱ_prev)(1 − ᾱ_prev)/(1 − ᾱ_t)), c2 = √(1 − ᾱ_prev − c1²),
 * x_prev = √ᾱ_prev·x̂_0 + c1·z + c2·ε. η = 0 is deterministic.
 */
public final class DdimSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final int[] seq;
    private final float eta;

    /**
     * @param schedule the noise schedule
     * @param seq the ascending timestep sequence ({@link Timesteps#sequence})
     * @param eta η ≥ 0
     */
    public DdimSampler(NoiseSchedule schedule, int[] seq, double eta) {
        if (eta < 0) {
            throw new dev.qncd.core.QncdException("--eta must be at least 0, got " + eta);
        }
        this.schedule = schedule;
        this.seq = seq.clone();
        this.eta = (float) eta;
    }

    @Override
    public int[] timesteps() {
        return seq.clone();
    }

    @Override
    public boolean needsNoise(int index) {
        return eta > 0;
    }

    @Override
    public float alphaBar(int index) {
        return schedule.alphaBar(t(index));
    }

    @Override
    public float alphaBarPrev(int index) {
        return schedule.alphaBar(tPrev(index));
    }

    @Override
    public double noiseStd(int index) {
        return c1(alphaBar(index), alphaBarPrev(index));
    }

    private float c1(float at, float atNext) {
        return eta * (float) Math.sqrt((1f - at / atNext) * (1f - atNext) / (1f - at));
    }

    @Override
    public StepOutput step(NDArray eps, int index, NDArray x, NDArray noise) {
        float at = schedule.alphaBar(t(index));
        float atNext = schedule.alphaBar(tPrev(index));
        float sqrtOneMinusAt = (float) Math.sqrt(1f - at);
        float sqrtAt = (float) Math.sqrt(at);
        NDArray x0 = x.sub(eps.mul(sqrtOneMinusAt)).divi(sqrtAt);
        float c1 = c1(at, atNext);
        float c2 = (float) Math.sqrt((1f - atNext) - c1 * c1);
        NDArray prev = x0.mul((float) Math.sqrt(atNext)).addi(eps.mul(c2));
        if (c1 != 0f) {
            prev.addi(noise.mul(c1));
        }
        return new StepOutput(prev, x0);
    }
}
