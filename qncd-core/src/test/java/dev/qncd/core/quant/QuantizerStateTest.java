package dev.qncd.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Config records and quantizer persistence. */
class QuantizerStateTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void configJsonRoundTripAndDefaults() throws Exception {
        QuantizerConfig c = QuantizerConfig.weight(4).withChannelAxis(1).withRunningStat(true).withMomentum(0.9);
        assertEquals(c, JSON.readValue(JSON.writeValueAsString(c), QuantizerConfig.class));
        QuantizerConfig partial = JSON.readValue("{\"bits\": 6}", QuantizerConfig.class);
        assertEquals(QuantizerConfig.activation(6), partial);
        assertEquals(0.95, partial.momentum(), 0.0);
        String text = JSON.writeValueAsString(QuantizerConfig.SOFTMAX_16);
        assertTrue(text.contains("\"alwaysZero\":true"), text);
        assertTrue(!text.contains("levelMin"), text);
    }

    @Test
    void invalidConfigsNameTheFix() {
        QncdException e = assertThrows(QncdException.class, () -> QuantizerConfig.activation(1));
        assertTrue(e.getMessage().contains("bits must be in 2..16") && e.getMessage().contains("set bits"));
        e = assertThrows(QncdException.class, () -> QuantizerConfig.softmax(8).withSymmetric(true));
        assertTrue(e.getMessage().contains("set symmetric=false"), e.getMessage());
        e = assertThrows(QncdException.class, () -> QuantizerConfig.activation(8).withMomentum(1.0));
        assertTrue(e.getMessage().contains("use 0.95"), e.getMessage());
        e = assertThrows(QncdException.class, () -> QuantizerConfig.activation(8).withPercentile(0.3));
        assertTrue(e.getMessage().contains("0.9999"), e.getMessage());
    }

    @Test
    void restoredQuantizerIsBitIdentical() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.create(TestData.laplaceWithOutliers(1, 6 * 3 * 3 * 3, 0.1, 3, 2f), new Shape(6, 3, 3, 3));
            NDArray x = m.create(TestData.studentT(2, 2 * 3 * 8 * 8, 3), new Shape(2, 3, 8, 8));
            NDArray x2 = m.create(TestData.studentT(3, 2 * 3 * 8 * 8, 3), new Shape(2, 3, 8, 8));
            QuantizerConfig[] configs = {
                QuantizerConfig.weight(4), QuantizerConfig.weightSymmetric(8),
                QuantizerConfig.activation(6).withRunningStat(true), QuantizerConfig.softmax(8)
            };
            for (QuantizerConfig c : configs) {
                NDArray in = c.channelWise() ? w : x;
                try (UniformAffineQuantizer q = new UniformAffineQuantizer("blk.q", c, m)) {
                    q.calibrate(in);
                    if (c.runningStat()) {
                        q.observe(x2);
                    }
                    q.freeze();
                    String sidecar = JSON.writeValueAsString(q.saveState());
                    // emulate a tensor file: copy the floats out and back in
                    Map<String, NDArray> file = new HashMap<>();
                    q.tensors("blk.q.").forEach((k, t) -> file.put(k, m.create(t.toFloatArray(), t.getShape())));
                    QuantizerState state = JSON.readValue(sidecar, QuantizerState.class);
                    assertEquals(q.saveState(), state);
                    try (UniformAffineQuantizer r = UniformAffineQuantizer.restore("blk.q", state, file, "blk.q.", m)) {
                        assertEquals(QuantState.FROZEN, r.state());
                        // exact: compare the raw float bits
                        assertArrayEquals(TestData.bits(q.fakeQuantize(in).toFloatArray()),
                                TestData.bits(r.fakeQuantize(in).toFloatArray()), c.toString());
                    }
                    file.remove("blk.q.zero_point");
                    FormatException e = assertThrows(FormatException.class,
                            () -> UniformAffineQuantizer.restore("blk.q", state, file, "blk.q.", m));
                    assertTrue(e.getMessage().contains("missing tensor 'blk.q.zero_point'"), e.getMessage());
                }
            }
        }
    }
}
