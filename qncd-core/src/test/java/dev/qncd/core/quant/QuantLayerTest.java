package dev.qncd.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Quantized conv/linear blocks. */
class QuantLayerTest {
    private static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    private static NDArray randn(NDManager m, long seed, double std, long... shape) {
        return m.create(TestData.gaussian(seed, (int) new Shape(shape).size(), std), new Shape(shape));
    }

    @Test
    void conv2dModeOffEqualsFloatConvExactly() {
        try (NDManager m = base.newSubManager()) {
            NDArray w = randn(m, 1, 0.2, 8, 2, 3, 3);
            NDArray b = randn(m, 2, 0.1, 8);
            NDArray x = randn(m, 3, 1.0, 2, 4, 9, 7);
            try (QuantConv2d layer = QuantConv2d.builder("c", w).bias(b).stride(2, 1).padding(1, 2).dilation(1, 2)
                    .groups(2).build()) {
                NDArray want = Conv2d.conv2d(x, w, b, new Shape(2, 1), new Shape(1, 2), new Shape(1, 2), 2)
                        .singletonOrThrow();
                // exact: OFF runs the very same functional conv on the very same arrays
                assertArrayEquals(TestData.bits(want.toFloatArray()), TestData.bits(layer.forward(x).toFloatArray()));
                // through the DJL Block API too
                NDList out = layer.forward(new ParameterStore(m, false), new NDList(x), false);
                assertArrayEquals(TestData.bits(want.toFloatArray()),
                        TestData.bits(out.singletonOrThrow().toFloatArray()));
                assertEquals(want.getShape(), layer.getOutputShapes(new Shape[] {x.getShape()})[0]);
            }
        }
    }

    @Test
    void w16a16IsCloseToFloat() {
        try (NDManager m = base.newSubManager()) {
            NDArray w = randn(m, 4, 0.2, 6, 5, 3, 3);
            NDArray b = randn(m, 5, 0.1, 6);
            NDArray x = randn(m, 6, 1.0, 2, 5, 8, 8);
            try (QuantConv2d layer = QuantConv2d.builder("c16", w).bias(b).padding(1, 1)
                    .weightConfig(QuantizerConfig.weight(16)).activationConfig(QuantizerConfig.activation(16)).build()) {
                layer.calibrateWeights();
                layer.calibrateActivations(x);
                layer.freeze();
                layer.setMode(QuantMode.WEIGHT_ACT);
                NDArray fp = Conv2d.conv2d(x, w, b, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)
                        .singletonOrThrow();
                NDArray q = layer.forward(x);
                float maxErr = fp.sub(q).abs().max().getFloat();
                // tolerance 2e-3: 16-bit steps are range/65535 (~1e-4 for x, ~1.5e-5 for w); a 45-term dot
                // product accumulates at most ~45·(|w|·Δx/2 + |x|·Δw/2) ≈ 1e-3 in the worst case
                assertTrue(maxErr < 2e-3f, "max |fp - W16A16| = " + maxErr);
                assertTrue(maxErr > 0f, "quantization must change something");
            }
        }
    }

    @Test
    void splitEqualsQuantizingTheTwoChannelGroupsSeparately() {
        try (NDManager m = base.newSubManager()) {
            int split = 3;
            NDArray w = randn(m, 7, 0.3, 4, 5, 1, 1);
            w.set(new NDIndex(":, 3:"), w.get(new NDIndex(":, 3:")).mul(10)); // skip half has larger weights
            NDArray x = randn(m, 8, 1.0, 2, 5, 4, 4);
            x.set(new NDIndex(":, 3:"), x.get(new NDIndex(":, 3:")).mul(5));
            QuantizerConfig wc = QuantizerConfig.weight(4);
            QuantizerConfig ac = QuantizerConfig.activation(4);
            try (QuantConv2d layer = QuantConv2d.builder("up.0.nin_shortcut", w).weightConfig(wc).activationConfig(ac)
                    .split(split).build();
                    UniformAffineQuantizer w0 = new UniformAffineQuantizer("w0", wc, m);
                    UniformAffineQuantizer w1 = new UniformAffineQuantizer("w1", wc, m);
                    UniformAffineQuantizer a0 = new UniformAffineQuantizer("a0", ac, m);
                    UniformAffineQuantizer a1 = new UniformAffineQuantizer("a1", ac, m)) {
                layer.calibrateWeights();
                layer.calibrateActivations(x);
                layer.setMode(QuantMode.WEIGHT_ACT);
                NDArray got = layer.forward(x);

                NDArray wLo = w.get(new NDIndex(":, :3"));
                NDArray wHi = w.get(new NDIndex(":, 3:"));
                NDArray xLo = x.get(new NDIndex(":, :3"));
                NDArray xHi = x.get(new NDIndex(":, 3:"));
                w0.calibrate(wLo);
                w1.calibrate(wHi);
                a0.calibrate(xLo);
                a1.calibrate(xHi);
                NDArray wq = NDArrays.concat(new NDList(w0.fakeQuantize(wLo), w1.fakeQuantize(wHi)), 1);
                NDArray xq = NDArrays.concat(new NDList(a0.fakeQuantize(xLo), a1.fakeQuantize(xHi)), 1);
                NDArray want = Conv2d.conv2d(xq, wq).singletonOrThrow();
                // exact: the same quantizers on the same slices and the same conv
                assertArrayEquals(TestData.bits(want.toFloatArray()), TestData.bits(got.toFloatArray()));
                assertArrayEquals(w1.delta().toFloatArray(),
                        layer.weightQuantizers().get(1).tensors("").get("delta").toFloatArray(), 0f);
                // and the split matters: the two groups' per-output-channel scales differ
                assertNotEquals(w0.delta().toFloatArray()[0], w1.delta().toFloatArray()[0]);
                assertEquals(4, layer.quantizerTensors().keySet().stream()
                        .filter(k -> k.endsWith(".delta")).count());
                assertTrue(layer.quantizerTensors().containsKey("up.0.nin_shortcut.act_quantizer_0.delta"));
            }
        }
    }

    @Test
    void frozenLayerCachesTheQuantizedWeightAndModesSwitch() {
        try (NDManager m = base.newSubManager()) {
            NDArray w = randn(m, 9, 0.5, 3, 4);
            NDArray b = randn(m, 10, 0.1, 3);
            NDArray x = randn(m, 11, 1.0, 5, 4);
            try (QuantLinear layer = new QuantLinear("lin", w, b, QuantizerConfig.weight(3),
                    QuantizerConfig.activation(3))) {
                layer.setMode(QuantMode.WEIGHT);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.forward(x));
                assertTrue(e.getMessage().contains("call calibrateWeights()"), e.getMessage());
                layer.calibrateWeights();
                NDArray before = layer.forward(x);
                layer.setMode(QuantMode.WEIGHT_ACT);
                e = assertThrows(IllegalStateException.class, () -> layer.forward(x));
                assertTrue(e.getMessage().contains("call calibrateActivations(x)"), e.getMessage());
                layer.freeze();
                layer.setMode(QuantMode.WEIGHT);
                // exact: the cached weight is the same fake-quantized weight
                assertArrayEquals(TestData.bits(before.toFloatArray()), TestData.bits(layer.forward(x).toFloatArray()));
                layer.setMode(QuantMode.OFF);
                assertArrayEquals(TestData.bits(Linear.linear(x, w, b).singletonOrThrow().toFloatArray()),
                        TestData.bits(layer.forward(x).toFloatArray()));
                int count = m.getManagedArrays().size();
                layer.setMode(QuantMode.WEIGHT);
                for (int i = 0; i < 200; i++) {
                    layer.forward(x).close();
                }
                // exact: no temporaries left behind by the cached path
                assertEquals(count, m.getManagedArrays().size());
            }
        }
    }

    @Test
    void conv1dAndLinearSplitAlongTheirChannelAxes() {
        try (NDManager m = base.newSubManager()) {
            NDArray w = randn(m, 12, 0.4, 3, 4, 3);
            NDArray x = randn(m, 13, 1.0, 2, 4, 10);
            try (QuantConv1d layer = QuantConv1d.builder("c1", w).padding(1).split(2).build()) {
                layer.calibrateWeights();
                layer.calibrateActivations(x);
                layer.freeze();
                layer.setMode(QuantMode.WEIGHT_ACT);
                NDArray y = layer.forward(x);
                assertEquals(new Shape(2, 3, 10), y.getShape());
                layer.setMode(QuantMode.OFF);
                NDArray fp = Conv1d.conv1d(x, w, null, new Shape(1), new Shape(1), new Shape(1), 1)
                        .singletonOrThrow();
                assertArrayEquals(TestData.bits(fp.toFloatArray()), TestData.bits(layer.forward(x).toFloatArray()));
            }
            NDArray lw = randn(m, 14, 0.4, 3, 6);
            NDArray lx = randn(m, 15, 1.0, 2, 7, 6);
            try (QuantLinear layer = new QuantLinear("l", lw, null, QuantizerConfig.W8, QuantizerConfig.A8, 4)) {
                layer.calibrateActivations(lx);
                // split along the last axis: the second group saw lx[..., 4:]
                float hiMax = lx.get(new NDIndex("..., 4:")).max().getFloat();
                assertEquals(hiMax, layer.activationQuantizers().get(1).tensors("").get("x_max").getFloat(), 0f);
                layer.setMode(QuantMode.ACT);
                assertEquals(new Shape(2, 7, 3), layer.forward(lx).getShape());
            }
        }
    }

    @Test
    void callerTempAttachedInputSurvivesAForwardPass() {
        // the layer never moves its input: a caller that scopes its own input with tempAttach gets it back
        try (NDManager m = base.newSubManager()) {
            NDArray w = randn(m, 16, 0.3, 2, 3, 3, 3);
            NDArray x = randn(m, 17, 1.0, 1, 3, 5, 5);
            try (QuantConv2d layer = QuantConv2d.builder("c", w).build()) {
                layer.calibrateWeights();
                layer.calibrateActivations(x);
                layer.freeze();
                layer.setMode(QuantMode.WEIGHT_ACT);
                float[] first = layer.forward(x).toFloatArray();
                try (NDManager callerScope = m.newSubManager()) {
                    x.tempAttach(callerScope);
                    layer.forward(x);
                }
                // x is back in m and still open
                assertEquals(m, x.getManager());
                assertArrayEquals(TestData.bits(first), TestData.bits(layer.forward(x).toFloatArray()));
            }
        }
    }
}
