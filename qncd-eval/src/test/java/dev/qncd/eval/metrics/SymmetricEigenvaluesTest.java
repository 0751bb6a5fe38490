package dev.qncd.eval.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Eigenvalues of matrices built with known spectra, and the pivoted Cholesky on singular matrices. */
class SymmetricEigenvaluesTest {
    /** Q diag(lambda) Q^T with Q a product of three random Householder reflections. */
    static double[] withSpectrum(double[] lambda, long seed) {
        int n = lambda.length;
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            a[i * n + i] = lambda[i];
        }
        Random rnd = new Random(seed);
        for (int r = 0; r < 3; r++) {
            double[] u = new double[n];
            double norm = 0;
            for (int i = 0; i < n; i++) {
                u[i] = rnd.nextGaussian();
                norm += u[i] * u[i];
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                u[i] /= norm;
            }
            // A <- H A H, H = I - 2 u u^T
            double[] au = new double[n];
            for (int i = 0; i < n; i++) {
                au[i] = Parallel.dot(a, i * n, u, 0, n);
            }
            double uau = Parallel.dot(u, 0, au, 0, n);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    a[i * n + j] += -2 * u[i] * au[j] - 2 * au[i] * u[j] + 4 * uau * u[i] * u[j];
                }
            }
        }
        return a;
    }

    @Test
    void recoversAKnownSpectrum() {
        for (int n : new int[] {1, 2, 3, 17, 65, 160, 301}) {
            double[] lambda = new double[n];
            Random rnd = new Random(n);
            for (int i = 0; i < n; i++) {
                lambda[i] = (i % 5 == 0 ? 0 : rnd.nextGaussian() * Math.pow(10, rnd.nextInt(6) - 3));
            }
            if (n > 3) {
                lambda[1] = lambda[2]; // a repeated eigenvalue
            }
            double[] ev = SymmetricEigenvalues.of(withSpectrum(lambda, 7), n);
            double[] expected = lambda.clone();
            Arrays.sort(expected);
            double scale = Arrays.stream(lambda).map(Math::abs).max().orElse(1);
            for (int i = 0; i < n; i++) {
                assertEquals(expected[i], ev[i], 1e-13 * scale * Math.max(1, n / 10.0), "n=" + n + " i=" + i);
            }
        }
    }

    @Test
    void pivotedCholeskyOfASingularMatrix() {
        int n = 40;
        double[] lambda = new double[n];
        for (int i = 0; i < n; i++) {
            lambda[i] = i < 25 ? 1 + i : 0;
        }
        double[] a = withSpectrum(lambda, 3);
        PivotedCholesky c = PivotedCholesky.factor(a, n);
        assertEquals(25, c.rank());
        double[] l = c.factor();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertEquals(a[i * n + j], Parallel.dot(l, i * 25, l, j * 25, 25), 1e-12 * 25);
            }
        }
    }
}
