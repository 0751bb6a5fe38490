package dev.qncd.eval.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;

/**
 * Inception Score (Salimans et al. 2016): {@code exp(E_x KL(p(y|x) || p(y)))}, computed as ADM does:
 * the predictions are cut into consecutive splits of {@code splitSize} rows (5000 in ADM, so 50k samples
 * give 10 splits; the last split may be shorter), p(y) is the mean prediction of a split, and the score
 * is the mean over splits of {@code exp(mean_x sum_y p(y|x) (log p(y|x) - log p(y)))}. Float64 throughout.
 */
public final class InceptionScore {
    /** ADM's split size. */
    public static final int ADM_SPLIT_SIZE = 5000;

    private InceptionScore() {}

    /**
     * Computes the score from classifier logits (softmax applied here, in float64).
     *
     * @param logits {@code N x C} logits
     * @param splitSize rows per split
     * @return the score
     * @throws QncdException when the logits are empty or not finite
     */
    public static double fromLogits(NDArray logits, int splitSize) {
        Shape shape = logits.getShape();
        if (shape.dimension() != 2 || shape.get(0) == 0) {
            throw new QncdException("Inception Score needs N x C logits with N > 0, got shape " + shape);
        }
        if (splitSize <= 0) {
            throw new QncdException("split size must be positive, got " + splitSize);
        }
        int n = Math.toIntExact(shape.get(0));
        int c = Math.toIntExact(shape.get(1));
        double[] z = logits.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] p = new double[z.length];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < c; k++) {
                double v = z[i * c + k];
                if (!Double.isFinite(v)) {
                    throw new QncdException("logits contain NaN or infinite values (row " + i + "): the"
                            + " classifier diverged or its weights are wrong");
                }
                max = Math.max(max, v);
            }
            double sum = 0;
            for (int k = 0; k < c; k++) {
                double e = Math.exp(z[i * c + k] - max);
                p[i * c + k] = e;
                sum += e;
            }
            for (int k = 0; k < c; k++) {
                p[i * c + k] /= sum;
            }
        }
        return fromProbabilities(p, n, c, splitSize);
    }

    /**
     * Computes the score from class probabilities.
     *
     * @param p row-major {@code n x c} probabilities
     * @param n rows
     * @param c classes
     * @param splitSize rows per split
     * @return the score
     */
    public static double fromProbabilities(double[] p, int n, int c, int splitSize) {
        double total = 0;
        int splits = 0;
        double[] marginal = new double[c];
        for (int start = 0; start < n; start += splitSize) {
            int end = Math.min(n, start + splitSize);
            java.util.Arrays.fill(marginal, 0);
            for (int i = start; i < end; i++) {
                for (int k = 0; k < c; k++) {
                    marginal[k] += p[i * c + k];
                }
            }
            for (int k = 0; k < c; k++) {
                marginal[k] = Math.log(marginal[k] / (end - start));
            }
            double kl = 0;
            for (int i = start; i < end; i++) {
                double row = 0;
                for (int k = 0; k < c; k++) {
                    double q = p[i * c + k];
                    // 0 * log 0 is NaN in numpy (ADM would report NaN); treat it as its limit, 0.
                    if (q > 0) {
                        row += q * (Math.log(q) - marginal[k]);
                    }
                }
                kl += row;
            }
            total += Math.exp(kl / (end - start));
            splits++;
        }
        return total / splits;
    }
}
