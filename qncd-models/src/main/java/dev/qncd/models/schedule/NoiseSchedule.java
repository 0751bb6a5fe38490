package dev.qncd.models.schedule;

/**
 * A discrete diffusion noise schedule: β_t and ᾱ_t = Π_{s≤t}(1 − β_s), t = 0..T−1.
 *
 * <p>ᾱ is computed as the reference does on the CPU: β cast to float32, 1 − β in float32, the running
 * product accumulated in float64 (libtorch's {@code cumprod} accumulator) and each ᾱ_t rounded to
 * float32. {@link #alphaBar(int)} returns 1 for t = −1 (DDIM's {@code compute_alpha} convention).
 */
public final class NoiseSchedule {
    private final double[] betas;
    private final float[] alphaBar;

    /** @param betas β_0..β_{T−1} (float64, as {@link BetaSchedule#betas} gives them) */
    public NoiseSchedule(double[] betas) {
        this.betas = betas.clone();
        this.alphaBar = new float[betas.length];
        double cum = 1.0;
        for (int i = 0; i < betas.length; i++) {
            float oneMinus = 1f - (float) betas[i];
            cum *= oneMinus;
            alphaBar[i] = (float) cum;
        }
    }

    /**
     * @param schedule the β schedule
     * @param start β_start
     * @param end β_end
     * @param steps T
     * @return the schedule
     */
    public static NoiseSchedule of(BetaSchedule schedule, double start, double end, int steps) {
        return new NoiseSchedule(schedule.betas(start, end, steps));
    }

    /** @return T */
    public int steps() {
        return betas.length;
    }

    /**
     * @param t timestep, −1..T−1
     * @return ᾱ_t (1 for t = −1), float32
     */
    public float alphaBar(int t) {
        return t < 0 ? 1f : alphaBar[t];
    }

    /**
     * @param t timestep 0..T−1
     * @return β_t as float32 (the reference's {@code betas.float()})
     */
    public float beta(int t) {
        return (float) betas[t];
    }

    /**
     * The model variance of DDPM sampling at t ({@code var_type}): {@code fixedlarge} β_t,
     * {@code fixedsmall} the posterior variance β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) (clamped at 1e-20).
     *
     * @param t timestep
     * @param fixedLarge the variance type
     * @return the variance
     */
    public double variance(int t, boolean fixedLarge) {
        if (fixedLarge) {
            return betas[t];
        }
        return Math.max(betas[t] * (1 - alphaBar(t - 1)) / (1 - alphaBar(t)), 1e-20);
    }
}
