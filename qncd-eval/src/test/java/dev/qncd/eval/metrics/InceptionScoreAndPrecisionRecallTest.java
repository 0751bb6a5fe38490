package dev.qncd.eval.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Inception Score and precision/recall against numpy re-computations of ADM's formulas. */
class InceptionScoreAndPrecisionRecallTest {
    @Test
    void inceptionScoreMatchesNumpy() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Fixtures.read("is.npz", m);
            double expected = f.get("score").getDouble();
            double got = InceptionScore.fromLogits(f.get("logits"), f.get("split_size").getInt());
            assertEquals(expected, got, 1e-12 * expected);
        }
    }

    @Test
    void inceptionScoreBounds() {
        try (NDManager m = NDManager.newBaseManager()) {
            // uniform predictions: IS = 1; confident one-hot over C equally used classes: IS = C
            assertEquals(1.0, InceptionScore.fromLogits(m.zeros(new Shape(20, 7)), 5000), 1e-12);
            NDArray oneHot = m.eye(8).mul(200f).tile(new long[] {3, 1});
            assertEquals(8.0, InceptionScore.fromLogits(oneHot, 5000), 1e-9);
            assertThrows(QncdException.class, () -> InceptionScore.fromLogits(m.zeros(new Shape(0, 7)), 10));
        }
    }

    @Test
    void precisionRecallMatchesNumpy() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Fixtures.read("pr.npz", m);
            int k = f.get("k").getInt();
            for (DataType type : new DataType[] {DataType.FLOAT64, DataType.FLOAT32}) {
                // small blocks to exercise the batching
                ManifoldPrecisionRecall pr = new ManifoldPrecisionRecall(k, 64, type);
                ManifoldPrecisionRecall.Result r = pr.compute(f.get("ref"), f.get("sample"));
                assertEquals(f.get("precision").getDouble(), r.precision(), 0, type.toString());
                assertEquals(f.get("recall").getDouble(), r.recall(), 0, type.toString());
            }
            ManifoldPrecisionRecall exact = new ManifoldPrecisionRecall(k, 100, DataType.FLOAT64);
            double[] radii = exact.radii(f.get("ref").toType(DataType.FLOAT64, false));
            float[] expected = f.get("radii_ref").toFloatArray();
            float[] got = new float[radii.length];
            for (int i = 0; i < got.length; i++) {
                got[i] = (float) radii[i];
            }
            assertArrayEquals(expected, got, 1e-4f);
        }
    }

    @Test
    void kthSmallest() {
        assertEquals(3.0, ManifoldPrecisionRecall.kthSmallest(new double[] {5, 0, 3, 1, 2, 9}, 3));
        assertEquals(0.0, ManifoldPrecisionRecall.kthSmallest(new double[] {5, 0, 3, 0, 2, 9}, 1));
    }
}
