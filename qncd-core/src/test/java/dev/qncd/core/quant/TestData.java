package dev.qncd.core.quant;

import java.util.Random;

/** Seeded sample generators for the quant tests. */
final class TestData {
    private TestData() {}

    /** Laplace(0, b) samples by inverse CDF, plus {@code outliers} values of ±{@code outlier}. */
    static float[] laplaceWithOutliers(long seed, int n, double b, int outliers, float outlier) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double u = r.nextDouble() - 0.5;
            out[i] = (float) (-b * Math.signum(u) * Math.log(1 - 2 * Math.abs(u)));
        }
        for (int i = 0; i < outliers; i++) {
            out[r.nextInt(n)] = (i % 2 == 0 ? outlier : -outlier * 0.5f);
        }
        return out;
    }

    /** Student-t samples with {@code nu} degrees of freedom: Z / sqrt(chi2_nu / nu). */
    static float[] studentT(long seed, int n, int nu) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double chi = 0;
            for (int k = 0; k < nu; k++) {
                double g = r.nextGaussian();
                chi += g * g;
            }
            out[i] = (float) (r.nextGaussian() / Math.sqrt(chi / nu));
        }
        return out;
    }

    static float[] gaussian(long seed, int n, double std) {
        Random r = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextGaussian() * std);
        }
        return out;
    }

    /** Mean |a − b|^p in double. */
    static double lp(float[] a, float[] b, double p) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.pow(Math.abs((double) a[i] - b[i]), p);
        }
        return s / a.length;
    }

    static int[] bits(float[] a) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = Float.floatToRawIntBits(a[i]);
        }
        return out;
    }
}
