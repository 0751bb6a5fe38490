package dev.qncd.eval.metrics;

/**
 * Cholesky factorisation of a symmetric positive <em>semi</em>-definite matrix with diagonal pivoting:
 * {@code A = L L^T} with {@code L} of size {@code n x r}, {@code r} the numerical rank (Higham, "Accuracy
 * and Stability of Numerical Algorithms", 2nd ed., section 10.3; the stopping rule of LAPACK's
 * {@code dpstrf}: stop when the largest remaining diagonal entry is at most {@code n * eps * max(diag A)}).
 *
 * <p>Rows of {@code L} stay in the original order (the pivoting only chooses which column to create
 * next), so {@code A[i][j] = sum_k L[i][k] L[j][k]} holds without a permutation. A covariance estimated
 * from fewer samples than dimensions is singular: this factor is exact for it, where a plain Cholesky
 * fails and a jittered one ({@code A + eps I}) perturbs the result.
 *
 * <p>Left-looking form: column {@code k} needs {@code n - k} dot products of contiguous row prefixes
 * of {@code L}; they are split across cores.
 */
public final class PivotedCholesky {
    private final int n;
    private final int rank;
    private final double[] factor;

    private PivotedCholesky(int n, int rank, double[] factor) {
        this.n = n;
        this.rank = rank;
        this.factor = factor;
    }

    /**
     * Factorises {@code a} (row-major {@code n x n}, symmetric; only read).
     *
     * @param a the matrix
     * @param n its order
     * @return the factorisation
     * @throws IllegalArgumentException when {@code a} has a negative pivot beyond rounding (not positive semi-definite)
     *     or a non-finite entry
     */
    public static PivotedCholesky factor(double[] a, int n) {
        if (a.length != (long) n * n) {
            throw new IllegalArgumentException("matrix has " + a.length + " entries, expected " + n + "x" + n);
        }
        double[] l = new double[n * n]; // row i: L[i][0..rank)
        double[] d = new double[n];     // remaining (Schur complement) diagonal
        boolean[] done = new boolean[n];
        double maxDiag = 0;
        for (int i = 0; i < n; i++) {
            d[i] = a[i * n + i];
            if (!Double.isFinite(d[i])) {
                throw new IllegalArgumentException("matrix has a non-finite diagonal entry at " + i);
            }
            maxDiag = Math.max(maxDiag, d[i]);
        }
        double tol = n * Math.ulp(1.0) * maxDiag;
        int k = 0;
        for (; k < n; k++) {
            int p = -1;
            double best = -Double.MAX_VALUE;
            for (int i = 0; i < n; i++) {
                if (!done[i] && d[i] > best) {
                    best = d[i];
                    p = i;
                }
            }
            if (p < 0 || best <= tol) {
                break;
            }
            done[p] = true;
            final int kk = k;
            final int pp = p;
            final double lkk = Math.sqrt(best);
            l[p * n + k] = lkk;
            Parallel.rows(0, n, (long) n * (k + 1), (c, from, to) -> {
                for (int i = from; i < to; i++) {
                    if (done[i]) {
                        continue;
                    }
                    double v = (a[i * n + pp] - Parallel.dot(l, i * n, l, pp * n, kk)) / lkk;
                    l[i * n + kk] = v;
                    d[i] -= v * v;
                }
            });
        }
        for (int i = 0; i < n; i++) {
            if (!done[i] && d[i] < -Math.max(tol, 1e-8 * maxDiag)) {
                throw new IllegalArgumentException("matrix is not positive semi-definite (remaining pivot "
                        + d[i] + " at row " + i + ")");
            }
        }
        // Compact to n x rank.
        double[] out = new double[n * k];
        for (int i = 0; i < n; i++) {
            System.arraycopy(l, i * n, out, i * k, k);
        }
        return new PivotedCholesky(n, k, out);
    }

    /** @return the order of the factorised matrix */
    public int n() {
        return n;
    }

    /** @return the numerical rank r (the number of columns of L) */
    public int rank() {
        return rank;
    }

    /** @return L, row-major {@code n x rank} (not a copy) */
    public double[] factor() {
        return factor;
    }
}
