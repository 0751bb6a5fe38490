package dev.qncd.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Maths, states and memory of {@link UniformAffineQuantizer}. */
class UniformAffineQuantizerTest {
    private static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    private static UniformAffineQuantizer calibrated(String name, QuantizerConfig c, NDArray x) {
        UniformAffineQuantizer q = new UniformAffineQuantizer(name, c, base);
        q.calibrate(x);
        return q;
    }

    @Test
    void djlRoundIsHalfToEvenLikeTorchRound() {
        try (NDManager m = base.newSubManager()) {
            NDArray x = m.create(new float[] {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f});
            // exact: torch.round rounds half to even
            assertArrayEquals(new float[] {-2f, -2f, -0f, 0f, 2f, 2f, 4f}, x.round().toFloatArray(), 0f);
        }
    }

    @Test
    void roundingAndClampingAtTheEdges() {
        try (NDManager m = base.newSubManager();
                UniformAffineQuantizer q = calibrated("edge", QuantizerConfig.activation(8)
                        .withRangeMethod(RangeMethod.MIN_MAX), m.create(new float[] {-64f, 0f, 63.5f}))) {
            // reference 'max': delta = (63.5 + 64)/255 = 0.5 exactly, z = round(64/0.5) = 128
            assertEquals(0.5f, q.delta().getFloat(), 0f);
            assertEquals(128f, q.zeroPoint().getFloat(), 0f);
            float[] in = {0.25f, 0.75f, -0.25f, -0.75f, 1.25f, 63.5f, 63.75f, 64f, 1000f, -64f, -64.25f, -64.5f,
                -1000f};
            // x/Δ = 0.5 -> 0, 1.5 -> 2, -0.5 -> -0, -1.5 -> -2, 2.5 -> 2 (half to even); code 255 = 63.5 is
            // the top, code 0 = -64 the bottom: everything beyond clamps there
            float[] want = {0f, 1f, 0f, -1f, 1f, 63.5f, 63.5f, 63.5f, 63.5f, -64f, -64f, -64f, -64f};
            NDArray x = m.create(in);
            assertArrayEquals(want, q.fakeQuantize(x).toFloatArray(), 0f); // exact: dyadic values
            int[] codes = q.quantizeToInt(x).toIntArray();
            assertArrayEquals(new int[] {128, 130, 128, 126, 130, 255, 255, 255, 255, 0, 0, 0, 0}, codes);
        }
    }

    @Test
    void symmetricAndAsymmetricLevelCounts() {
        try (NDManager m = base.newSubManager()) {
            NDArray x = m.linspace(-1f, 1f, 2001);
            NDArray wide = m.linspace(-2f, 2f, 2001);
            try (UniformAffineQuantizer sym = calibrated("sym", QuantizerConfig.activation(4).withSymmetric(true)
                    .withRangeMethod(RangeMethod.MIN_MAX), x);
                    UniformAffineQuantizer asym = calibrated("asym", QuantizerConfig.activation(4)
                            .withRangeMethod(RangeMethod.MIN_MAX), x)) {
                // symmetric 4 bit: Δ = 1/7, z = 0; inside [-1, 1] the codes -7..7 (15 levels) are reached,
                // beyond it the reference's extra level -8 too (clamp to [-n_levels-1, n_levels])
                assertEquals(1f / 7f, sym.delta().getFloat(), 0f);
                assertEquals(0f, sym.zeroPoint().getFloat(), 0f);
                assertEquals(15, distinct(sym.fakeQuantize(x)));
                assertEquals(16, distinct(sym.fakeQuantize(wide)));
                NDArray codes = sym.quantizeToInt(wide);
                assertEquals(-8, codes.min().toIntArray()[0]);
                assertEquals(7, codes.max().toIntArray()[0]);
                // asymmetric 4 bit: Δ = 2/15, z = round(7.5) = 8 (half to even): 16 levels 0..15. On the
                // calibration data itself code 0 is missed: float32 Δ = 0.13333334 > 2/15, so
                // -1/Δ = -7.4999996 rounds to -7 (the reference behaves the same); beyond it all 16 appear
                assertEquals(8f, asym.zeroPoint().getFloat(), 0f);
                assertEquals(15, distinct(asym.fakeQuantize(x)));
                assertEquals(16, distinct(asym.fakeQuantize(wide)));
            }
        }
    }

    private static int distinct(NDArray a) {
        Set<Float> s = new HashSet<>();
        for (float v : a.toFloatArray()) {
            s.add(v + 0f);
        }
        return s.size();
    }

    @Test
    void perChannelScalesEqualHandComputationOnAnyAxis() {
        try (NDManager m = base.newSubManager()) {
            float[] data = TestData.gaussian(3, 4 * 3 * 5, 0.7);
            data[7] += 3f; // channel-specific outlier
            // rank 3, channel axis 1 (C = 3)
            NDArray x = m.create(data, new Shape(4, 3, 5));
            QuantizerConfig c = QuantizerConfig.weight(6).withChannelAxis(1);
            try (UniformAffineQuantizer q = calibrated("w", c, x)) {
                float[] d = q.delta().toFloatArray();
                float[] z = q.zeroPoint().toFloatArray();
                assertEquals(3, d.length);
                for (int ch = 0; ch < 3; ch++) {
                    double mn = Double.MAX_VALUE;
                    double mx = -Double.MAX_VALUE;
                    for (int i = 0; i < 4; i++) {
                        for (int k = 0; k < 5; k++) {
                            double v = data[i * 15 + ch * 5 + k];
                            mn = Math.min(mn, v);
                            mx = Math.max(mx, v);
                        }
                    }
                    double delta = (mx - mn) / 63.0; // reference: (x.max - x.min)/(n_levels - 1)
                    // exact: the same double arithmetic rounded once to float
                    assertEquals((float) delta, d[ch], 0f);
                    assertEquals((float) Math.rint(-Math.min(mn, 0) / delta), z[ch], 0f);
                }
                // the broadcast is along axis 1: channel ch of q(x) equals a per-tensor quantizer with that
                // channel's (Δ, z) — checked on one element per channel
                float[] out = q.fakeQuantize(x).toFloatArray();
                for (int ch = 0; ch < 3; ch++) {
                    float v = data[15 + ch * 5 + 2];
                    float code = Math.max(0, Math.min(63, Math.round(v / d[ch]) + z[ch]));
                    // exact: same float ops (no ties in random data, so Math.round == rint here)
                    assertEquals((code - z[ch]) * d[ch], out[15 + ch * 5 + 2], 0f);
                }
            }
            // symmetric per channel: Δ = max|w| / (2^(b-1) - 1), z = 0
            try (UniformAffineQuantizer q = calibrated("ws", QuantizerConfig.weightSymmetric(8),
                    m.create(new float[] {-1f, 0.5f, 0.25f, -3f, 2f, 1f}, new Shape(2, 3)))) {
                assertArrayEquals(new float[] {(float) (1.0 / 127), (float) (3.0 / 127)}, q.delta().toFloatArray(),
                        0f);
                assertArrayEquals(new float[] {0f, 0f}, q.zeroPoint().toFloatArray(), 0f);
            }
        }
    }

    @Test
    void eightBitErrorInsideTheRangeIsAtMostHalfAStep() {
        try (NDManager m = base.newSubManager()) {
            float[] data = TestData.gaussian(11, 20000, 1.3);
            NDArray x = m.create(data);
            try (UniformAffineQuantizer q = calibrated("a", QuantizerConfig.activation(8)
                    .withRangeMethod(RangeMethod.MIN_MAX), x)) {
                float d = q.delta().getFloat();
                float[] out = q.fakeQuantize(x).toFloatArray();
                for (int i = 0; i < data.length; i++) {
                    // tolerance: Δ/2 plus 4 float32 ulps of |x| for the rounding of x/Δ and (code - z)·Δ
                    float tol = d / 2 + 4 * Math.ulp(Math.abs(data[i]) + d);
                    assertTrue(Math.abs(data[i] - out[i]) <= tol, "element " + i);
                }
            }
        }
    }

    @Test
    void mseSearchIsNeverWorseThanMinMaxOnHeavyTails() {
        try (NDManager m = base.newSubManager()) {
            float[][] sets = {
                TestData.laplaceWithOutliers(5, 8192, 0.5, 6, 25f), TestData.studentT(6, 8192, 2),
                TestData.laplaceWithOutliers(7, 4096, 1.0, 0, 0f)
            };
            for (int bits : new int[] {4, 6, 8}) {
                for (float[] data : sets) {
                    NDArray x = m.create(data);
                    try (UniformAffineQuantizer mm = calibrated("mm", QuantizerConfig.activation(bits)
                            .withRangeMethod(RangeMethod.MIN_MAX), x);
                            UniformAffineQuantizer ms = calibrated("mse", QuantizerConfig.activation(bits), x)) {
                        double eMm = TestData.lp(data, mm.fakeQuantize(x).toFloatArray(), 2.4);
                        double eMs = TestData.lp(data, ms.fakeQuantize(x).toFloatArray(), 2.4);
                        // candidate i = 0 is the min-max range (same Δ here since the data straddle 0), so
                        // the search can only improve; 1e-12 absorbs double summation noise
                        assertTrue(eMs <= eMm + 1e-12, bits + " bits: mse " + eMs + " > minmax " + eMm);
                        if (data[0] != 0 && bits == 4) {
                            assertTrue(eMs < eMm, "outliers should make the MSE search clip");
                        }
                    }
                }
            }
        }
    }

    @Test
    void vectorisedPerChannelMseEqualsChannelByChannelSearch() {
        try (NDManager m = base.newSubManager()) {
            int c = 5;
            int n = 3 * 4 * 4;
            float[] data = new float[c * n];
            for (int ch = 0; ch < c; ch++) {
                float[] part = TestData.laplaceWithOutliers(20 + ch, n, 0.2 * (ch + 1), ch % 3, 4f * (ch + 1));
                System.arraycopy(part, 0, data, ch * n, n);
            }
            NDArray w = m.create(data, new Shape(c, 3, 4, 4));
            QuantizerConfig cfg = QuantizerConfig.weight(4).withRangeMethod(RangeMethod.MSE);
            try (UniformAffineQuantizer q = calibrated("w", cfg, w)) {
                float[] d = q.delta().toFloatArray();
                float[] z = q.zeroPoint().toFloatArray();
                for (int ch = 0; ch < c; ch++) {
                    NDArray slice = w.get(ch);
                    try (UniformAffineQuantizer one = calibrated("w" + ch, cfg.perTensor(), slice)) {
                        // exact: the same candidate is chosen and Δ, z are the same float32 arithmetic
                        assertEquals(one.delta().getFloat(), d[ch], 0f, "channel " + ch);
                        assertEquals(one.zeroPoint().getFloat(), z[ch], 0f, "channel " + ch);
                    }
                }
            }
        }
    }

    @Test
    void percentileOneIsTheClampedMinMaxOfDesignMd() {
        try (NDManager m = base.newSubManager()) {
            // all positive: reference 'max' uses the raw range (max - min), DESIGN.md max' - min' = max - 0
            NDArray x = m.create(new float[] {1f, 2f, 3f, 5.1f});
            try (UniformAffineQuantizer p = calibrated("p", QuantizerConfig.activation(8).withPercentile(1.0), x);
                    UniformAffineQuantizer mm = calibrated("mm", QuantizerConfig.activation(8)
                            .withRangeMethod(RangeMethod.MIN_MAX), x)) {
                assertEquals(5.1f / 255f, p.delta().getFloat(), 0f); // float32 division as QuantParams
                assertEquals(0f, p.zeroPoint().getFloat(), 0f);
                assertEquals((float) ((5.1f - 1.0) / 255.0), mm.delta().getFloat(), 0f);
            }
            // 0.99 of 1..100 with linear interpolation = 99.01 -> clips the top
            NDArray ramp = m.arange(1f, 101f);
            try (UniformAffineQuantizer p = calibrated("p", QuantizerConfig.activation(8).withPercentile(0.99),
                    ramp)) {
                float q99 = 99f + (100f - 99f) * (float) (0.99 * 99 - 98);
                assertEquals(q99 / 255f, p.delta().getFloat(), 1e-6f); // tolerance: float interpolation
            }
        }
    }

    @Test
    void runningStatEmaEqualsHandComputation() {
        try (NDManager m = base.newSubManager()) {
            float[] b1 = {-1f, 0.5f, 2f};
            float[] b2 = {-3f, 1f, 1.5f};
            float[] b3 = {-0.5f, 4f};
            QuantizerConfig c = QuantizerConfig.activation(8).withRangeMethod(RangeMethod.MIN_MAX)
                    .withRunningStat(true);
            try (UniformAffineQuantizer q = calibrated("act", c, m.create(b1))) {
                q.observe(m.create(b2));
                q.observe(m.create(b3));
                float mom = 0.95f;
                float om = (float) (1 - 0.95);
                float xMin = -1f;
                float xMax = 2f;
                xMin = xMin * mom + -3f * om;
                xMax = xMax * mom + 1.5f * om;
                xMin = xMin * mom + -0.5f * om;
                xMax = xMax * mom + 4f * om;
                float delta = (xMax - xMin) / 255f;
                // exact: the same float32 operations in the same order as act_momentum_update
                assertEquals(xMin, q.tensors("").get("x_min").getFloat(), 0f);
                assertEquals(xMax, q.tensors("").get("x_max").getFloat(), 0f);
                assertEquals(delta, q.delta().getFloat(), 0f);
                assertEquals((float) Math.rint(-xMin / delta), q.zeroPoint().getFloat(), 0f);
                assertEquals(2, q.observedBatches());
            }
        }
    }

    @Test
    void outOfOrderCallsNameTheMissingCall() {
        try (NDManager m = base.newSubManager();
                UniformAffineQuantizer q = new UniformAffineQuantizer("down.0.conv1.act",
                        QuantizerConfig.activation(8).withRunningStat(true), base)) {
            NDArray x = m.create(new float[] {1f, -1f});
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> q.fakeQuantize(x));
            assertEquals("quantizer 'down.0.conv1.act' is not calibrated: call calibrate(x) (or load its state) "
                    + "before fakeQuantize", e.getMessage());
            assertTrue(assertThrows(IllegalStateException.class, () -> q.observe(x)).getMessage()
                    .contains("call calibrate(x) before observe(x)"));
            assertTrue(assertThrows(IllegalStateException.class, q::freeze).getMessage()
                    .contains("before freeze()"));
            assertTrue(assertThrows(IllegalStateException.class, q::delta).getMessage().contains("calibrate(x)"));
            q.calibrate(x);
            q.observe(x);
            q.freeze();
            assertEquals(QuantState.FROZEN, q.state());
            assertTrue(assertThrows(IllegalStateException.class, () -> q.observe(x)).getMessage()
                    .contains("FROZEN: observe(x)"));
            assertTrue(assertThrows(IllegalStateException.class, () -> q.calibrate(x)).getMessage()
                    .contains("FROZEN: calibrate(x)"));
            q.fakeQuantize(x).close(); // still allowed
        }
        try (NDManager m = base.newSubManager();
                UniformAffineQuantizer q = calibrated("noStat", QuantizerConfig.activation(8),
                        m.create(new float[] {1f, -1f}))) {
            assertTrue(assertThrows(IllegalStateException.class, () -> q.observe(m.create(new float[] {2f})))
                    .getMessage().contains("withRunningStat(true)"));
        }
    }

    @Test
    void fakeQuantizeDoesNotGrowNativeMemory() {
        try (NDManager m = NDManager.newBaseManager();
                UniformAffineQuantizer perTensor = new UniformAffineQuantizer("t", QuantizerConfig.activation(8), m);
                UniformAffineQuantizer perChannel = new UniformAffineQuantizer("c", QuantizerConfig.weight(8), m)) {
            NDArray x = m.create(TestData.gaussian(1, 4 * 64, 1), new Shape(4, 64));
            perTensor.calibrate(x);
            perChannel.calibrate(x);
            perTensor.fakeQuantize(x).close();
            perChannel.fakeQuantize(x).close();
            int before = m.getManagedArrays().size();
            for (int i = 0; i < 1000; i++) {
                perTensor.fakeQuantize(x).close();
                perChannel.fakeQuantize(x).close();
                perChannel.quantizeToInt(x).close();
            }
            // exact: every temporary is closed and every output was closed by the caller
            assertEquals(before, m.getManagedArrays().size());
        }
    }
}
