package dev.qncd.eval.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fréchet distance between two Gaussians, the FID / sFID of Heusel et al. 2017 (eq. 6):
 * {@code d^2 = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)}, in float64.
 *
 * <p>{@code tr sqrt(S1 S2)} is computed without a matrix square root: with {@code S1 = L L^T}
 * ({@link PivotedCholesky}, exact also for singular S1), {@code S1 S2} is similar to the symmetric
 * positive semi-definite {@code M = L^T S2 L}, so the trace is {@code sum_i sqrt(max(lambda_i(M), 0))}
 * ({@link SymmetricEigenvalues}). {@code M} is formed with two DJL float64 matmuls.
 *
 * <p>ADM's and pytorch-fid's reference computes {@code scipy.linalg.sqrtm(S1.dot(S2))} (a Schur method)
 * and only when that result is not finite retries with {@code S + 1e-6 I}. On well-conditioned and on
 * rank-deficient covariances scipy's result is finite and both agree with this class to about 1e-8
 * relative (see docs/EVALUATION.md); a jittered Cholesky would instead move rank-deficient cases by
 * about 1e-4 relative, which is why the factorisation is pivoted rather than jittered.
 */
public final class FrechetDistance {
    private static final Logger LOG = LoggerFactory.getLogger(FrechetDistance.class);

    /**
     * The distance and its terms.
     *
     * @param value the squared Fréchet distance (what papers report as FID)
     * @param meanTerm {@code |mu1 - mu2|^2}
     * @param traceTerm {@code tr S1 + tr S2}
     * @param traceSqrt {@code tr sqrt(S1 S2)}
     * @param rank1 numerical rank of S1
     */
    public record Result(double value, double meanTerm, double traceTerm, double traceSqrt, int rank1) {}

    private FrechetDistance() {}

    /**
     * Computes the distance.
     *
     * @param a first statistics (e.g. samples)
     * @param b second statistics (e.g. reference)
     * @param manager where the float64 matmuls run (its device)
     * @return the distance and its terms
     * @throws QncdException when the dimensions differ or a covariance is not positive semi-definite
     */
    public static Result compute(GaussianStats a, GaussianStats b, NDManager manager) {
        if (a.dim() != b.dim()) {
            throw new QncdException("statistics have different dimensions (" + a.dim() + " vs " + b.dim()
                    + "): both sides must come from the same feature extractor and layer");
        }
        int n = a.dim();
        double meanTerm = 0;
        for (int i = 0; i < n; i++) {
            double diff = a.mu()[i] - b.mu()[i];
            meanTerm += diff * diff;
        }
        double traceTerm = a.traceSigma() + b.traceSigma();
        long t0 = System.nanoTime();
        PivotedCholesky chol;
        try {
            chol = PivotedCholesky.factor(a.sigma(), n);
        } catch (IllegalArgumentException e) {
            throw new QncdException("the first covariance is not a covariance: " + e.getMessage()
                    + " (recompute the statistics from the features)", e);
        }
        int r = chol.rank();
        long t1 = System.nanoTime();
        double traceSqrt = 0;
        if (r > 0) {
            double[] m;
            try (NDManager sub = manager.newSubManager()) {
                NDArray l = sub.create(chol.factor(), new Shape(n, r));
                NDArray s2 = sub.create(b.sigma(), new Shape(n, n));
                NDArray mm = l.transpose().matMul(s2.matMul(l));
                mm = mm.add(mm.transpose()).muli(0.5);
                m = mm.toType(DataType.FLOAT64, false).toDoubleArray();
            }
            long t2 = System.nanoTime();
            double[] ev = SymmetricEigenvalues.of(m, r, manager);
            double neg = 0;
            for (double lam : ev) {
                if (lam > 0) {
                    traceSqrt += Math.sqrt(lam);
                } else {
                    neg = Math.min(neg, lam);
                }
            }
            long t3 = System.nanoTime();
            LOG.debug("Frechet distance n={} rank={}: cholesky {} ms, L^T S2 L {} ms, eigenvalues {} ms,"
                            + " most negative eigenvalue {}", n, r, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000,
                    (t3 - t2) / 1_000_000, neg);
        }
        double value = meanTerm + traceTerm - 2 * traceSqrt;
        return new Result(value, meanTerm, traceTerm, traceSqrt, r);
    }
}
