package dev.qncd.eval.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) as ADM's {@code ManifoldEstimator} computes
 * them: each set's manifold is the union of balls around its points whose squared radius is the squared
 * distance to the k-th nearest neighbour (k = 3; the point itself counts as the 0-th). Precision is the
 * fraction of samples inside the reference manifold, recall the fraction of references inside the sample
 * manifold ({@code d^2 <= r^2}).
 *
 * <p>Squared distances {@code |u|^2 - 2 u.v + |v|^2} (clamped at 0) come from DJL matmuls over row and
 * column batches. ADM evaluates them in float16 first and falls back to float32 on overflow; here the
 * type is a parameter (float32 by default, float64 for exact comparisons).
 *
 * @param k the neighbourhood size (ADM: 3)
 * @param batchSize rows and columns per distance block (ADM: 10000)
 * @param type float type of the distance computation
 */
public record ManifoldPrecisionRecall(int k, int batchSize, DataType type) {
    /** ADM's settings: k = 3, 10000 x 10000 blocks, float32. */
    public static final ManifoldPrecisionRecall ADM = new ManifoldPrecisionRecall(3, 10000, DataType.FLOAT32);

    /** Validates the settings. */
    public ManifoldPrecisionRecall {
        if (k < 1 || batchSize < 1) {
            throw new QncdException("precision/recall needs k >= 1 and a positive batch size, got k=" + k
                    + ", batch " + batchSize);
        }
        if (type != DataType.FLOAT32 && type != DataType.FLOAT64) {
            throw new QncdException("precision/recall distances must be float32 or float64, got " + type);
        }
    }

    /**
     * @param precision fraction of samples inside the reference manifold
     * @param recall fraction of references inside the sample manifold
     */
    public record Result(double precision, double recall) {}

    /**
     * Computes precision and recall.
     *
     * @param reference reference features {@code N1 x D}
     * @param samples sample features {@code N2 x D}
     * @return precision and recall
     */
    public Result compute(NDArray reference, NDArray samples) {
        check(reference, "reference");
        check(samples, "sample");
        if (reference.getShape().get(1) != samples.getShape().get(1)) {
            throw new QncdException("reference and sample features have different dimensions ("
                    + reference.getShape().get(1) + " vs " + samples.getShape().get(1) + ")");
        }
        try (NDManager sub = reference.getManager().newSubManager()) {
            NDArray ref = reference.toType(type, true); // copies: closing sub must not free the inputs
            NDArray smp = samples.toType(type, true);
            ref.attach(sub);
            smp.attach(sub);
            double[] radiiRef = radii(ref);
            double[] radiiSmp = radii(smp);
            int n1 = Math.toIntExact(ref.getShape().get(0));
            int n2 = Math.toIntExact(smp.getShape().get(0));
            boolean[] refIn = new boolean[n1];
            boolean[] smpIn = new boolean[n2];
            for (int r0 = 0; r0 < n1; r0 += batchSize) {
                int r1 = Math.min(n1, r0 + batchSize);
                for (int c0 = 0; c0 < n2; c0 += batchSize) {
                    int c1 = Math.min(n2, c0 + batchSize);
                    double[] d = distances(ref, r0, r1, smp, c0, c1);
                    int w = c1 - c0;
                    for (int i = r0; i < r1; i++) {
                        for (int j = c0; j < c1; j++) {
                            double dij = d[(i - r0) * w + (j - c0)];
                            if (dij <= radiiRef[i]) {
                                smpIn[j] = true;
                            }
                            if (dij <= radiiSmp[j]) {
                                refIn[i] = true;
                            }
                        }
                    }
                }
            }
            return new Result(fraction(smpIn), fraction(refIn));
        }
    }

    /**
     * Squared k-NN radii of a feature set (ADM's {@code manifold_radii}).
     *
     * @param features {@code N x D}, already of {@link #type()}
     * @return the squared radius of each row
     */
    public double[] radii(NDArray features) {
        int n = Math.toIntExact(features.getShape().get(0));
        if (n <= k) {
            throw new QncdException("precision/recall with k=" + k + " needs more than " + k
                    + " feature vectors per set, got " + n + ": evaluate more images");
        }
        double[] radii = new double[n];
        double[] row = new double[n];
        for (int r0 = 0; r0 < n; r0 += batchSize) {
            int r1 = Math.min(n, r0 + batchSize);
            double[][] block = new double[r1 - r0][];
            for (int c0 = 0; c0 < n; c0 += batchSize) {
                int c1 = Math.min(n, c0 + batchSize);
                double[] d = distances(features, r0, r1, features, c0, c1);
                for (int i = r0; i < r1; i++) {
                    if (block[i - r0] == null) {
                        block[i - r0] = new double[n];
                    }
                    System.arraycopy(d, (i - r0) * (c1 - c0), block[i - r0], c0, c1 - c0);
                }
            }
            for (int i = r0; i < r1; i++) {
                System.arraycopy(block[i - r0], 0, row, 0, n);
                radii[i] = kthSmallest(row, k);
            }
        }
        return radii;
    }

    private double[] distances(NDArray u, int u0, int u1, NDArray v, int v0, int v1) {
        try (NDManager step = u.getManager().newSubManager()) {
            NDArray a = u.get(new NDIndex("{}:{}", u0, u1));
            NDArray b = v.get(new NDIndex("{}:{}", v0, v1));
            a.attach(step);
            b.attach(step);
            NDArray na = a.square().sum(new int[] {1}).reshape(-1, 1);
            NDArray nb = b.square().sum(new int[] {1}).reshape(1, -1);
            NDArray d = na.sub(a.matMul(b.transpose()).muli(2)).addi(nb).maximum(0);
            return d.toType(DataType.FLOAT64, false).toDoubleArray();
        }
    }

    /** Quickselect: the element that would be at index {@code kth} after sorting (modifies {@code a}). */
    static double kthSmallest(double[] a, int kth) {
        int lo = 0;
        int hi = a.length - 1;
        while (lo < hi) {
            double pivot = a[(lo + hi) >>> 1];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    double t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (kth <= j) {
                hi = j;
            } else if (kth >= i) {
                lo = i;
            } else {
                return a[kth];
            }
        }
        return a[kth];
    }

    private static void check(NDArray x, String what) {
        Shape s = x.getShape();
        if (s.dimension() != 2 || s.get(0) == 0) {
            throw new QncdException(what + " features must be a non-empty N x D matrix, got " + s);
        }
    }

    private static double fraction(boolean[] in) {
        int c = 0;
        for (boolean b : in) {
            if (b) {
                c++;
            }
        }
        return (double) c / in.length;
    }
}
