package dev.qncd.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.TestFixtures;
import dev.qncd.core.io.Npz;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The quantizer against Q-Diffusion's own {@code UniformAffineQuantizer}, run by
 * scripts/make_quant_fixtures.py on the same inputs (weights per channel, 'max' and 'mse'; heavy-tailed
 * activations per tensor; softmax outputs with always_zero; running statistics over three batches).
 *
 * <p>Tolerances: Δ within 1e-6 relative (the reference mixes Python doubles and float32 tensors; the
 * order of a few float operations differs), zero points exact, and the fake-quantized outputs equal
 * except where an element sits within float32 rounding of a decision boundary: at most 0.1 % of the
 * elements may differ, each by at most one step Δ.
 */
class ReferenceParityTest {
    static Stream<String> cases() {
        return Stream.of("w8_max_conv", "w4_max_conv", "w4_mse_linear", "w8_sym_max_conv", "a8_mse_heavy",
                "a6_mse_heavy", "a8_max_silu", "sm8_mse_probs", "sm16_max_probs", "a8_mse_running");
    }

    static Path fixture(String name) {
        return TestFixtures.path("quant/" + name + ".npz");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesQDiffusion(String name) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Npz.read(fixture(name), m);
            int bits = (int) f.get("bits").getLong();
            boolean channelWise = f.get("channel_wise").getBoolean();
            boolean running = f.containsKey("x1");
            QuantizerConfig cfg = new QuantizerConfig(bits, f.get("symmetric").getBoolean(), channelWise, 0,
                    f.get("always_zero").getBoolean(),
                    f.get("method_mse").getBoolean() ? RangeMethod.MSE : RangeMethod.MIN_MAX,
                    QuantizerConfig.DEFAULT_PERCENTILE, running, QuantizerConfig.DEFAULT_MOMENTUM);
            try (UniformAffineQuantizer q = new UniformAffineQuantizer(name, cfg, m)) {
                NDArray x = f.get("x");
                q.calibrate(x);
                if (running) { // the reference's first forward both initialises and updates
                    q.observe(x);
                    q.observe(f.get("x1"));
                    q.observe(f.get("x2"));
                }
                q.freeze();
                float[] expDelta = f.get("delta").toFloatArray();
                float[] delta = q.delta().toFloatArray();
                assertEquals(expDelta.length, delta.length, name + ": parameter count");
                for (int c = 0; c < delta.length; c++) {
                    assertEquals(expDelta[c], delta[c], Math.abs(expDelta[c]) * 1e-6, name + ": delta[" + c + "]");
                }
                float[] expZp = f.get("zero_point").toFloatArray();
                float[] zp = q.zeroPoint().toFloatArray();
                for (int c = 0; c < zp.length; c++) {
                    assertEquals(expZp[c], zp[c], 0f, name + ": zero_point[" + c + "]");
                }
                float[] exp = f.get("out").toFloatArray();
                float[] out = q.fakeQuantize(x).toFloatArray();
                float maxDelta = 0;
                for (float d : expDelta) {
                    maxDelta = Math.max(maxDelta, d);
                }
                int differ = 0;
                for (int i = 0; i < out.length; i++) {
                    if (exp[i] != out[i]) {
                        differ++;
                        assertTrue(Math.abs(exp[i] - out[i]) <= maxDelta * 1.0001f,
                                name + ": element " + i + " differs by more than one step: " + exp[i] + " vs " + out[i]);
                    }
                }
                assertTrue(differ <= out.length / 1000, name + ": " + differ + " of " + out.length + " elements differ");
            }
        }
    }
}
