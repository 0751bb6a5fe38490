package dev.qncd.models.sampling;

import ai.djl.ndarray.NDArray;
import dev.qncd.models.schedule.NoiseSchedule;

/**
 * DDPM ancestral steps over a (possibly strided) sequence (Ho et al. 2020, eq. 6-7; DDIM's
 * {@code functions/denoising.ddpm_steps}, {@code --sample_type ddpm_noisy}): with β = 1 − ᾱ_t/ᾱ_prev,
 * x̂_0 = clamp(√(1/ᾱ_t)·x − √(1/ᾱ_t − 1)·ε, −1, 1),
 * mean = (√ᾱ_prev·β·x̂_0 + √(1 − β)·(1 − ᾱ_prev)·x) / (1 − ᾱ_t),
 * x_prev = mean + σ·z with σ² = β ({@code fixedlarge}, the reference) or the posterior variance
 * β(1 − ᾱ_prev)/(1 − ᾱ_t) ({@code fixedsmall}); no noise at t = 0.
 */
public final class DdpmSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final int[] seq;
    private final boolean fixedLarge;

    /**
     * @param schedule the noise schedule
     * @param seq the ascending timestep sequence
     * @param fixedLarge σ² = β (true, DDIM's ddpm_steps) or the posterior variance (false)
     */
    public DdpmSampler(NoiseSchedule schedule, int[] seq, boolean fixedLarge) {
        this.schedule = schedule;
        this.seq = seq.clone();
        this.fixedLarge = fixedLarge;
    }

    @Override
    public int[] timesteps() {
        return seq.clone();
    }

    @Override
    public boolean needsNoise(int index) {
        return t(index) != 0;
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
        if (!needsNoise(index)) {
            return 0;
        }
        return Math.exp(0.5 * Math.log(variance(alphaBar(index), alphaBarPrev(index))));
    }

    private float variance(float at, float atm1) {
        float beta = 1f - at / atm1;
        return fixedLarge ? beta : Math.max(beta * (1f - atm1) / (1f - at), 1e-20f);
    }

    @Override
    public StepOutput step(NDArray eps, int index, NDArray x, NDArray noise) {
        float at = schedule.alphaBar(t(index));
        float atm1 = schedule.alphaBar(tPrev(index));
        float beta = 1f - at / atm1;
        NDArray x0 = x.mul((float) Math.sqrt(1f / at)).subi(eps.mul((float) Math.sqrt(1f / at - 1f))).clip(-1f, 1f);
        NDArray mean = x0.mul((float) Math.sqrt(atm1) * beta)
                .addi(x.mul((float) Math.sqrt(1f - beta) * (1f - atm1))).divi(1f - at);
        if (needsNoise(index)) {
            mean.addi(noise.mul((float) Math.exp(0.5 * Math.log(variance(at, atm1)))));
        }
        return new StepOutput(mean, x0);
    }
}
