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
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager()) {
            return of(a, n, manager);
        }
    }

    /**
     * Computes all eigenvalues, with the trailing updates of the blocked reduction as DJL matmuls.
     *
     * @param a row-major {@code n x n} symmetric matrix (only the lower triangle is read; not modified)
     * @param n the order
     * @param manager where the float64 matmuls run
     * @return the eigenvalues in ascending order
     */
    public static double[] of(double[] a, int n, ai.djl.ndarray.NDManager manager) {
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
        tridiagonalizeBlocked(a.clone(), n, d, e, manager);
        ql(d, e, n);
        Arrays.sort(d);
        return d;
    }

    /** Panel width of the blocked reduction. */
    static final int PANEL = 32;

    /**
     * Blocked Householder tridiagonalisation (the scheme of LAPACK's {@code dsytrd}/{@code dlatrd}):
     * within a panel of {@link #PANEL} columns the reflectors are applied implicitly as
     * {@code A - V W^T - W V^T}, so each column costs one read-only pass over the lower triangle
     * ({@code A22 v}); after the panel the trailing block gets the rank-2·PANEL update with one DJL
     * float64 matmul. Same outputs as {@link #tridiagonalize}.
     */
    static void tridiagonalizeBlocked(double[] a, int n, double[] d, double[] e, ai.djl.ndarray.NDManager manager) {
        if (n <= 2 * PANEL) {
            tridiagonalize(a, n, d, e);
            return;
        }
        int threads = Parallel.chunks();
        double[][] partial = new double[threads][n];
        double[] x = new double[n];
        int b0 = 0;
        for (; b0 + PANEL < n - 2; b0 += PANEL) {
            final int nb = PANEL;
            final int base = b0;
            // V, W: column-panel storage, row-major n x nb (rows < k of column j are zero)
            double[] vv = new double[n * nb];
            double[] ww = new double[n * nb];
            for (int j = 0; j < nb; j++) {
                final int k = base + j;
                final int s = k + 1;
                final int jj = j;
                // current column k (rows k..n): A[i][k] - sum_t V[i][t] W[k][t] + W[i][t] V[k][t]
                for (int i = k; i < n; i++) {
                    double c = a[i * n + k];
                    for (int t = 0; t < j; t++) {
                        c -= vv[i * nb + t] * ww[k * nb + t] + ww[i * nb + t] * vv[k * nb + t];
                    }
                    x[i] = c;
                }
                d[k] = x[k];
                double scale = 0;
                for (int i = s; i < n; i++) {
                    scale += Math.abs(x[i]);
                }
                if (scale == 0) {
                    e[k] = 0;
                    continue; // V, W column stays zero: H = I
                }
                double norm2 = 0;
                for (int i = s; i < n; i++) {
                    x[i] /= scale;
                    norm2 += x[i] * x[i];
                }
                double x0 = x[s];
                double alpha = -Math.copySign(Math.sqrt(norm2), x0);
                e[k] = alpha * scale;
                x[s] = x0 - alpha;
                double vtv = 2 * (norm2 - alpha * x0);
                if (vtv == 0) {
                    continue;
                }
                final double beta = 2 / vtv;
                for (int i = s; i < n; i++) {
                    vv[i * nb + j] = x[i];
                }
                // p = A22 v (original lower triangle, rows/cols s..n)
                for (double[] pp : partial) {
                    java.util.Arrays.fill(pp, s, n, 0);
                }
                final double[] v = x;
                Parallel.triangleRows(s, n, (c, from, to) -> symmetricMatvecRows(a, n, v, s, from, to, partial[c]));
                // corrections: - V (W^T v) - W (V^T v), over earlier panel columns
                double[] wtv = new double[jj];
                double[] vtvv = new double[jj];
                for (int i = s; i < n; i++) {
                    double vi = v[i];
                    for (int t = 0; t < jj; t++) {
                        wtv[t] += ww[i * nb + t] * vi;
                        vtvv[t] += vv[i * nb + t] * vi;
                    }
                }
                double ptv = 0;
                for (int i = s; i < n; i++) {
                    double p = 0;
                    for (double[] pp : partial) {
                        p += pp[i];
                    }
                    for (int t = 0; t < jj; t++) {
                        p -= vv[i * nb + t] * wtv[t] + ww[i * nb + t] * vtvv[t];
                    }
                    p *= beta;
                    ww[i * nb + j] = p;
                    ptv += p * v[i];
                }
                double kappa = beta * ptv / 2;
                for (int i = s; i < n; i++) {
                    ww[i * nb + j] -= kappa * v[i];
                }
            }
            // trailing update of rows/cols t0..n: A -= V W^T + W V^T
            int t0 = base + nb;
            int m = n - t0;
            double[] upd;
            try (ai.djl.ndarray.NDManager sub = manager.newSubManager()) {
                double[] left = new double[m * 2 * nb];
                double[] right = new double[m * 2 * nb];
                for (int i = 0; i < m; i++) {
                    System.arraycopy(vv, (t0 + i) * nb, left, i * 2 * nb, nb);
                    System.arraycopy(ww, (t0 + i) * nb, left, i * 2 * nb + nb, nb);
                    System.arraycopy(ww, (t0 + i) * nb, right, i * 2 * nb, nb);
                    System.arraycopy(vv, (t0 + i) * nb, right, i * 2 * nb + nb, nb);
                }
                ai.djl.ndarray.NDArray l = sub.create(left, new ai.djl.ndarray.types.Shape(m, 2L * nb));
                ai.djl.ndarray.NDArray r = sub.create(right, new ai.djl.ndarray.types.Shape(m, 2L * nb));
                upd = l.matMul(r.transpose()).toDoubleArray();
            }
            final double[] u = upd;
            Parallel.triangleRows(t0, n, (c, from, to) -> {
                for (int i = from; i < to; i++) {
                    int row = i * n;
                    int urow = (i - t0) * m - t0;
                    for (int q = t0; q <= i; q++) {
                        a[row + q] -= u[urow + q];
                    }
                }
            });
        }
        // the rest, unblocked, on the trailing block
        tridiagonalizeFrom(a, n, d, e, b0);
    }

    /**
     * Householder tridiagonalisation: on return {@code d} holds the diagonal and {@code e[i]} the
     * sub-diagonal entry between rows i and i+1 ({@code e[n-1] = 0}).
     */
    static void tridiagonalize(double[] a, int n, double[] d, double[] e) {
        tridiagonalizeFrom(a, n, d, e, 0);
    }

    /** Unblocked reduction of columns {@code start..n-2} (earlier columns already reduced). */
    static void tridiagonalizeFrom(double[] a, int n, double[] d, double[] e, int start) {
        int threads = Parallel.chunks();
        double[] v = new double[n];
        double[] w = new double[n];
        double[][] partial = new double[threads][n];
        for (int k = start; k < n - 2; k++) {
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
            Parallel.triangleRows(s, n, (c, from, to) -> symmetricMatvecRows(a, n, v, s, from, to, partial[c]));
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
     * Adds rows {@code [from, to)} of the lower triangle's contribution to {@code p = A v} (columns from
     * {@code s}): each stored {@code A[i][q]} serves {@code p[i] += A[i][q] v[q]} and {@code p[q] += A[i][q] v[i]}.
     * Four independent accumulators keep the row sum off one long dependency chain.
     */
    static void symmetricMatvecRows(double[] a, int n, double[] v, int s, int from, int to, double[] p) {
        for (int i = from; i < to; i++) {
            int row = i * n;
            double vi = v[i];
            double acc0 = a[row + i] * vi;
            double acc1 = 0;
            double acc2 = 0;
            double acc3 = 0;
            int q = s;
            for (; q + 3 < i; q += 4) {
                double a0 = a[row + q];
                double a1 = a[row + q + 1];
                double a2 = a[row + q + 2];
                double a3 = a[row + q + 3];
                acc0 += a0 * v[q];
                acc1 += a1 * v[q + 1];
                acc2 += a2 * v[q + 2];
                acc3 += a3 * v[q + 3];
                p[q] += a0 * vi;
                p[q + 1] += a1 * vi;
                p[q + 2] += a2 * vi;
                p[q + 3] += a3 * vi;
            }
            for (; q < i; q++) {
                double aiq = a[row + q];
                acc0 += aiq * v[q];
                p[q] += aiq * vi;
            }
            p[i] += (acc0 + acc1) + (acc2 + acc3);
        }
    }

    /**
     * Implicit QL with Wilkinson shifts on a symmetric tridiagonal matrix; eigenvalues overwrite {@code d}.
     * Each sweep chases the bulge with Givens rotations from the bottom of the unreduced block up.
     */
    static void ql(double[] d, double[] e, int n) {
        // Deflate an off-diagonal entry once it is negligible next to its diagonal neighbours or
        // below eps times the norm of T (EISPACK's absolute test; eigenvalues are then accurate to
        // eps ||T||, which is what the backward-stable reduction delivers anyway).
        double norm = 0;
        for (int i = 0; i < n; i++) {
            norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
        }
        double small = Math.ulp(1.0) * norm;
        for (int l = 0; l < n; l++) {
            int iter = 0;
            while (true) {
                int m = l;
                for (; m < n - 1; m++) {
                    double dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
                    if (Math.abs(e[m]) + dd == dd || Math.abs(e[m]) <= small) {
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
