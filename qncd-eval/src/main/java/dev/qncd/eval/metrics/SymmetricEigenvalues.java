package dev.qncd.eval.metrics;

import java.util.Arrays;

/**
 * Eigenvalues of a real symmetric matrix, in float64: Householder reduction to tridiagonal form followed
 * by the implicit QL iteration with Wilkinson shifts (Golub and Van Loan, "Matrix Computations", 4th ed.,
 * algorithms 8.3.1 and 8.3.3; the QL variant as in the EISPACK routine {@code tql1}). No eigenvectors are
 * formed, which makes it about three times cheaper than a full decomposition.
 *
 * <p>The reduction works on the lower triangle of a row-major copy: step k computes {@code p = A22 v}
 * in one pass over the rows (each stored entry is used for both {@code A[i][j]} and {@code A[j][i]}, with
 * one accumulator per thread) and applies the symmetric rank-2 update {@code A22 -= v w^T + w v^T} in a
 * second pass; both passes run across cores on chunks of equal area.
 */
public final class SymmetricEigenvalues {
    private static final int MAX_QL_ITERATIONS = 60;

    private SymmetricEigenvalues() {}

    /**
     * Computes all eigenvalues.
     *
     * @param a row-major {@code n x n} symmetric matrix (only the lower triangle is read; not modified)
     * @param n the order
     * @return the eigenvalues in ascending order
     * @throws ArithmeticException when the QL iteration does not converge (only with non-finite input)
     */
    public static double[] of(double[] a, int n) {
        if (a.length != (long) n * n) {
            throw new IllegalArgumentException("matrix has " + a.length + " entries, expected " + n + "x" + n);
        }
        for (double x : a) {
            if (!Double.isFinite(x)) {
                throw new ArithmeticException("matrix has non-finite entries");
            }
        }
        double[] d = new double[n];
        double[] e = new double[n];
        tridiagonalize(a.clone(), n, d, e);
        ql(d, e, n);
        Arrays.sort(d);
        return d;
    }

    /**
     * Householder tridiagonalisation: on return {@code d} holds the diagonal and {@code e[i]} the
     * sub-diagonal entry between rows i and i+1 ({@code e[n-1] = 0}).
     */
    static void tridiagonalize(double[] a, int n, double[] d, double[] e) {
        int threads = Parallel.chunks();
        double[] v = new double[n];
        double[] w = new double[n];
        double[][] partial = new double[threads][n];
        for (int k = 0; k < n - 2; k++) {
            final int s = k + 1; // trailing block starts here
            d[k] = a[k * n + k];
            // x = A[s..n), k], a column of the lower triangle.
            double scale = 0;
            for (int i = s; i < n; i++) {
                scale += Math.abs(a[i * n + k]);
            }
            if (scale == 0) {
                e[k] = 0;
                continue;
            }
            double norm2 = 0;
            for (int i = s; i < n; i++) {
                double x = a[i * n + k] / scale;
                v[i] = x;
                norm2 += x * x;
            }
            double x0 = v[s];
            double alpha = -Math.copySign(Math.sqrt(norm2), x0);
            e[k] = alpha * scale;
            v[s] = x0 - alpha;
            // H = I - beta v v^T with beta = 2 / v^T v; v^T v = 2 (norm2 - alpha x0)
            double vtv = 2 * (norm2 - alpha * x0);
            if (vtv == 0) {
                continue;
            }
            final double beta = 2 / vtv;
            // p = beta * A22 v, from the lower triangle, one pass.
            for (double[] pp : partial) {
                Arrays.fill(pp, s, n, 0);
            }
            Parallel.triangleRows(s, n, (c, from, to) -> {
                double[] p = partial[c];
                for (int i = from; i < to; i++) {
                    int row = i * n;
                    double vi = v[i];
                    double acc = a[row + i] * vi;
                    for (int j = s; j < i; j++) {
                        double aij = a[row + j];
                        acc += aij * v[j];
                        p[j] += aij * vi;
                    }
                    p[i] += acc;
                }
            });
            double ptv = 0;
            for (int i = s; i < n; i++) {
                double p = 0;
                for (double[] pp : partial) {
                    p += pp[i];
                }
                p *= beta;
                w[i] = p;
                ptv += p * v[i];
            }
            double kappa = beta * ptv / 2;
            for (int i = s; i < n; i++) {
                w[i] -= kappa * v[i];
            }
            // A22 -= v w^T + w v^T on the lower triangle.
            Parallel.triangleRows(s, n, (c, from, to) -> {
                for (int i = from; i < to; i++) {
                    int row = i * n;
                    double vi = v[i];
                    double wi = w[i];
                    for (int j = s; j <= i; j++) {
                        a[row + j] -= vi * w[j] + wi * v[j];
                    }
                }
            });
        }
        if (n >= 2) {
            d[n - 2] = a[(n - 2) * n + n - 2];
            e[n - 2] = a[(n - 1) * n + n - 2];
        }
        if (n >= 1) {
            d[n - 1] = a[(n - 1) * n + n - 1];
            e[n - 1] = 0;
        }
    }

    /**
     * Implicit QL with Wilkinson shifts on a symmetric tridiagonal matrix; eigenvalues overwrite {@code d}.
     * Each sweep chases the bulge with Givens rotations from the bottom of the unreduced block up.
     */
    static void ql(double[] d, double[] e, int n) {
        for (int l = 0; l < n; l++) {
            int iter = 0;
            while (true) {
                int m = l;
                for (; m < n - 1; m++) {
                    double dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
                    if (Math.abs(e[m]) <= Math.ulp(dd) * 0.5 || Math.abs(e[m]) + dd == dd) {
                        break;
                    }
                }
                if (m == l) {
                    break;
                }
                if (++iter > MAX_QL_ITERATIONS) {
                    throw new ArithmeticException("QL iteration did not converge at eigenvalue " + l);
                }
                // Wilkinson shift from the leading 2x2 block.
                double g = (d[l + 1] - d[l]) / (2 * e[l]);
                double r = Math.hypot(g, 1);
                g = d[m] - d[l] + e[l] / (g + Math.copySign(r, g));
                double sn = 1;
                double cs = 1;
                double p = 0;
                boolean deflated = false;
                for (int i = m - 1; i >= l; i--) {
                    double f = sn * e[i];
                    double b = cs * e[i];
                    r = Math.hypot(f, g);
                    e[i + 1] = r;
                    if (r == 0) {
                        // Underflow: the block splits; restart from l.
                        d[i + 1] -= p;
                        e[m] = 0;
                        deflated = true;
                        break;
                    }
                    sn = f / r;
                    cs = g / r;
                    g = d[i + 1] - p;
                    r = (d[i] - g) * sn + 2 * cs * b;
                    p = sn * r;
                    d[i + 1] = g + p;
                    g = cs * r - b;
                }
                if (deflated) {
                    continue;
                }
                d[l] -= p;
                e[l] = g;
                e[m] = 0;
            }
        }
    }
}
