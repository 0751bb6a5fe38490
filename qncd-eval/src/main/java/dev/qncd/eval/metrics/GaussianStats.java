package dev.qncd.eval.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;

/**
 * Mean and covariance of a feature set, in float64: what FID and sFID compare (ADM's
 * {@code FIDStatistics}). The covariance is the unbiased estimate {@code np.cov(x, rowvar=False)}.
 *
 * @param mu the mean, length {@code dim}
 * @param sigma the covariance, row-major {@code dim x dim}
 * @param dim the feature dimension
 */
public record GaussianStats(double[] mu, double[] sigma, int dim) {
    /** Rows per float64 matmul chunk when accumulating the covariance (bounds the temporary memory). */
    static final int CHUNK_ROWS = 4096;

    /** Validates the shapes and values. */
    public GaussianStats {
        if (dim <= 0 || mu.length != dim || sigma.length != (long) dim * dim) {
            throw new QncdException("statistics have inconsistent shapes: mu " + mu.length + ", sigma "
                    + sigma.length + " entries for dimension " + dim);
        }
        for (double x : mu) {
            if (!Double.isFinite(x)) {
                throw new QncdException("statistics hold a NaN or infinite mean: recompute them from finite features");
            }
        }
        for (double x : sigma) {
            if (!Double.isFinite(x)) {
                throw new QncdException("statistics hold a NaN or infinite covariance: recompute them from finite features");
            }
        }
    }

    /**
     * Mean and covariance of {@code features} ({@code N x D}, any float type), in float64 with DJL
     * matmuls on the features' device. Centred first, then {@code X_c^T X_c / (N - 1)} accumulated over
     * chunks of rows.
     *
     * @param features the features, {@code N >= 2}
     * @return the statistics
     * @throws QncdException when there are fewer than 2 rows or a feature is NaN or infinite
     */
    public static GaussianStats fromFeatures(NDArray features) {
        Shape shape = features.getShape();
        if (shape.dimension() != 2) {
            throw new QncdException("features must be a matrix N x D, got shape " + shape);
        }
        long n = shape.get(0);
        int d = Math.toIntExact(shape.get(1));
        if (n < 2) {
            throw new QncdException("need at least 2 feature vectors for a covariance, got " + n
                    + ": evaluate more images");
        }
        try (NDManager sub = features.getManager().newSubManager()) {
            NDArray x = features.toType(DataType.FLOAT64, true); // a copy: closing sub must not free the input
            x.attach(sub);
            if (x.isInfinite().logicalOr(x.isNaN()).any().getBoolean()) {
                throw new QncdException("features contain NaN or infinite values: the feature extractor"
                        + " diverged or the images are corrupt (check the input range and the weights)");
            }
            NDArray mean = x.mean(new int[] {0});
            NDArray cov = sub.zeros(new Shape(d, d), DataType.FLOAT64);
            for (long r = 0; r < n; r += CHUNK_ROWS) {
                try (NDManager step = sub.newSubManager()) {
                    NDArray chunk = x.get(new NDIndex("{}:{}", r, Math.min(n, r + CHUNK_ROWS)));
                    chunk.attach(step);
                    NDArray xc = chunk.sub(mean);
                    NDArray part = xc.transpose().matMul(xc);
                    cov.addi(part);
                }
            }
            cov.divi(n - 1);
            return new GaussianStats(mean.toDoubleArray(), cov.toDoubleArray(), d);
        }
    }

    /**
     * Wraps precomputed statistics (e.g. the {@code mu}/{@code sigma} of an ADM reference batch).
     *
     * @param mu the mean, shape {@code (D)}
     * @param sigma the covariance, shape {@code (D, D)}
     * @param source where they come from, for error messages
     * @return the statistics
     */
    public static GaussianStats of(NDArray mu, NDArray sigma, String source) {
        Shape ms = mu.getShape();
        Shape ss = sigma.getShape();
        if (ms.dimension() != 1 || ss.dimension() != 2 || ss.get(0) != ms.get(0) || ss.get(1) != ms.get(0)) {
            throw new QncdException(source + ": mu must have shape (D) and sigma (D, D), got " + ms + " and " + ss);
        }
        return new GaussianStats(mu.toType(DataType.FLOAT64, false).toDoubleArray(),
                sigma.toType(DataType.FLOAT64, false).toDoubleArray(), Math.toIntExact(ms.get(0)));
    }

    /** @return the trace of the covariance */
    public double traceSigma() {
        double t = 0;
        for (int i = 0; i < dim; i++) {
            t += sigma[i * dim + i];
        }
        return t;
    }
}
