package dev.qncd.models.schedule;

import dev.qncd.core.QncdException;
import java.util.Locale;

/**
 * The β schedules of DDIM's {@code get_beta_schedule} (runners/diffusion.py), computed in float64 as
 * there, plus the cosine schedule of improved DDPM (Nichol and Dhariwal 2021, eq. 17), which DDIM lacks.
 */
public enum BetaSchedule {
    /** β linear from start to end. */
    LINEAR,
    /** √β linear from √start to √end, squared. */
    QUAD,
    /** β = end everywhere. */
    CONST,
    /** β_t = 1/(T − t): 1/T, 1/(T−1), ..., 1. */
    JSD,
    /** β = sigmoid(linspace(−6, 6)) · (end − start) + start. */
    SIGMOID,
    /** ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999). */
    COSINE;

    /**
     * @param name the config's {@code beta_schedule}
     * @return the schedule
     * @throws QncdException for an unknown name
     */
    public static BetaSchedule parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new QncdException("unknown beta_schedule '" + name
                    + "': use linear, quad, const, jsd, sigmoid or cosine");
        }
    }

    /**
     * @param start β_start
     * @param end β_end
     * @param steps T
     * @return β_0..β_{T−1} in float64
     */
    public double[] betas(double start, double end, int steps) {
        double[] b = new double[steps];
        for (int i = 0; i < steps; i++) {
            b[i] = switch (this) {
                case LINEAR -> linspace(start, end, steps, i);
                case QUAD -> Math.pow(linspace(Math.sqrt(start), Math.sqrt(end), steps, i), 2);
                case CONST -> end;
                case JSD -> 1.0 / linspace(steps, 1, steps, i);
                case SIGMOID -> 1.0 / (Math.exp(-linspace(-6, 6, steps, i)) + 1) * (end - start) + start;
                case COSINE -> Math.min(1 - cosineAlphaBar(i + 1, steps) / cosineAlphaBar(i, steps), 0.999);
            };
        }
        return b;
    }

    /** numpy's linspace: start + i·step with step = (stop − start)/(n − 1), and the last value exactly stop. */
    static double linspace(double start, double stop, int n, int i) {
        if (n == 1) {
            return start;
        }
        if (i == n - 1) {
            return stop;
        }
        double step = (stop - start) / (n - 1);
        return start + i * step;
    }

    private static double cosineAlphaBar(int t, int steps) {
        double s = 0.008;
        double v = Math.cos(((double) t / steps + s) / (1 + s) * Math.PI / 2);
        return v * v;
    }
}
