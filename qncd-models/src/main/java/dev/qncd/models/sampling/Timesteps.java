package dev.qncd.models.sampling;

import dev.qncd.core.QncdException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The timestep sequences of DDIM's runner ({@code sample_image}): {@code uniform}: skip = T // n,
 * seq = 0, skip, 2·skip, ... below T; {@code quad}: seq_i = int(linspace(0, √(0.8·T), n)_i²).
 * Sampling visits them in reverse.
 */
public final class Timesteps {
    private Timesteps() {}

    /** The skip type of {@code --skip_type}. */
    public enum Skip {
        /** Evenly spaced. */
        UNIFORM,
        /** Quadratically spaced (denser near t = 0). */
        QUAD;

        /**
         * @param s {@code uniform} or {@code quad}
         * @return the skip type
         */
        public static Skip parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new QncdException("unknown skip type '" + s + "': use uniform or quad");
            }
        }
    }

    /**
     * @param skip the skip type
     * @param steps requested number of steps n (1..T)
     * @param total T
     * @return the ascending sequence of timesteps (uniform may hold more than n entries when T is not a
     *     multiple of n, exactly as the reference)
     */
    public static int[] sequence(Skip skip, int steps, int total) {
        if (steps < 1 || steps > total) {
            throw new QncdException("--timesteps must be in 1.." + total + ", got " + steps);
        }
        List<Integer> seq = new ArrayList<>();
        if (skip == Skip.UNIFORM) {
            int k = total / steps;
            for (int t = 0; t < total; t += k) {
                seq.add(t);
            }
        } else {
            double stop = Math.sqrt(total * 0.8);
            for (int i = 0; i < steps; i++) {
                double v = steps == 1 ? 0 : (i == steps - 1 ? stop : i * (stop / (steps - 1)));
                seq.add((int) (v * v));
            }
        }
        return seq.stream().mapToInt(Integer::intValue).toArray();
    }
}
