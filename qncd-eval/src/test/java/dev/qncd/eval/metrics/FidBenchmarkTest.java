package dev.qncd.eval.metrics;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FID of 10k vs 10k features of dimension 2048 (the target: under 10 s). Runs only with
 * {@code -Dqncd.bench=true} (scripts/bench_eval.sh).
 */
@EnabledIfSystemProperty(named = "qncd.bench", matches = "true")
class FidBenchmarkTest {
    private static final Logger LOG = LoggerFactory.getLogger(FidBenchmarkTest.class);

    @Test
    void fid10kVs10k() {
        int n = Integer.getInteger("qncd.bench.n", 10000);
        int d = Integer.getInteger("qncd.bench.d", 2048);
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(1);
            // Correlated, anisotropic features like Inception's (non-negative after ReLU + pooling).
            NDArray mix = m.randomNormal(new Shape(d, d)).divi(Math.sqrt(d));
            NDArray a = m.randomNormal(new Shape(n, d)).matMul(mix).abs();
            NDArray b = m.randomNormal(new Shape(n, d)).mul(1.05).matMul(mix).abs();
            for (int rep = 0; rep < 2; rep++) {
                long t0 = System.nanoTime();
                GaussianStats sa = GaussianStats.fromFeatures(a);
                GaussianStats sb = GaussianStats.fromFeatures(b);
                long t1 = System.nanoTime();
                FrechetDistance.Result r = FrechetDistance.compute(sa, sb, m);
                long t2 = System.nanoTime();
                String line = String.format("FID %dx%d vs %dx%d: statistics %.2f s, distance %.2f s, total %.2f s"
                        + " (fid %.6f, rank %d)", n, d, n, d, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t2 - t0) / 1e9,
                        r.value(), r.rank1());
                LOG.info(line);
                System.err.println(line);
                long c0 = System.nanoTime();
                PivotedCholesky ch = PivotedCholesky.factor(sa.sigma(), d);
                long c1 = System.nanoTime();
                double[] ev = SymmetricEigenvalues.of(sb.sigma(), d);
                long c2 = System.nanoTime();
                System.err.printf("FID parts: cholesky %.2f s, eigenvalues %.2f s (%d, %g)%n", (c1 - c0) / 1e9,
                        (c2 - c1) / 1e9, ch.rank(), ev[0]);
            }
        }
    }
}
