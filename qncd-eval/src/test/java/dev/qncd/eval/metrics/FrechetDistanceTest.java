package dev.qncd.eval.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.QncdException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Fréchet distance against ADM's scipy.linalg.sqrtm-based value (fixtures from make_eval_fixtures.py). */
class FrechetDistanceTest {
    @ParameterizedTest
    @ValueSource(strings = {"well", "aniso", "rankdef", "rankdef_one"})
    void agreesWithScipySqrtm(String name) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Fixtures.read("fid_" + name + ".npz", m);
            GaussianStats a = GaussianStats.of(f.get("mu1"), f.get("sigma1"), name);
            GaussianStats b = GaussianStats.of(f.get("mu2"), f.get("sigma2"), name);
            double expected = f.get("fid").getDouble();
            FrechetDistance.Result r = FrechetDistance.compute(a, b, m);
            double rel = Math.abs(r.value() - expected) / Math.abs(expected);
            System.err.printf("fid_%s: java %.12g scipy %.12g rel %.3g rank %d/%d%n", name, r.value(), expected,
                    rel, r.rank1(), a.dim());
            assertTrue(rel <= 1e-6, "relative error " + rel);
            // symmetric in its arguments
            double swapped = FrechetDistance.compute(b, a, m).value();
            assertTrue(Math.abs(swapped - expected) / expected <= 1e-6, "swapped " + swapped);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"well", "rankdef"})
    void covarianceEqualsNumpyCov(String name) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Fixtures.read("fid_" + name + ".npz", m);
            GaussianStats s = GaussianStats.fromFeatures(f.get("a"));
            double[] mu = f.get("mu1").toDoubleArray();
            double[] sigma = f.get("sigma1").toDoubleArray();
            for (int i = 0; i < mu.length; i++) {
                assertEquals(mu[i], s.mu()[i], 1e-12 * (1 + Math.abs(mu[i])));
            }
            double maxAbs = 0;
            for (double x : sigma) {
                maxAbs = Math.max(maxAbs, Math.abs(x));
            }
            for (int i = 0; i < sigma.length; i++) {
                assertEquals(sigma[i], s.sigma()[i], 1e-12 * maxAbs);
            }
        }
    }

    @Test
    void identicalStatisticsGiveZero() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Fixtures.read("fid_aniso.npz", m);
            GaussianStats a = GaussianStats.of(f.get("mu1"), f.get("sigma1"), "a");
            FrechetDistance.Result r = FrechetDistance.compute(a, a, m);
            assertEquals(0, r.value(), 1e-9 * r.traceTerm());
        }
    }

    @Test
    void nanFeaturesAreRefused() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new ai.djl.ndarray.types.Shape(10, 4));
            x.set(new ai.djl.ndarray.index.NDIndex("3, 2"), Float.NaN);
            QncdException e = assertThrows(QncdException.class, () -> GaussianStats.fromFeatures(x));
            assertTrue(e.getMessage().contains("NaN"), e.getMessage());
            assertThrows(QncdException.class, () -> GaussianStats.fromFeatures(m.zeros(new ai.djl.ndarray.types.Shape(1, 4))));
        }
    }

    @Test
    void dimensionMismatchIsAUserError() {
        GaussianStats a = new GaussianStats(new double[2], new double[] {1, 0, 0, 1}, 2);
        GaussianStats b = new GaussianStats(new double[1], new double[] {1}, 1);
        try (NDManager m = NDManager.newBaseManager()) {
            QncdException e = assertThrows(QncdException.class, () -> FrechetDistance.compute(a, b, m));
            assertTrue(e.getMessage().contains("same feature extractor"), e.getMessage());
        }
    }

    @Test
    void oneDimensionalClosedForm() {
        // d^2 = (m1-m2)^2 + s1 + s2 - 2 sqrt(s1 s2)
        GaussianStats a = new GaussianStats(new double[] {1}, new double[] {4}, 1);
        GaussianStats b = new GaussianStats(new double[] {3}, new double[] {9}, 1);
        try (NDManager m = NDManager.newBaseManager()) {
            assertEquals(4 + 4 + 9 - 12, FrechetDistance.compute(a, b, m).value(), 1e-12);
        }
        assertEquals(DataType.FLOAT64, DataType.FLOAT64);
    }
}
