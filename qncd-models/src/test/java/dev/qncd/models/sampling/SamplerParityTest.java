package dev.qncd.models.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.io.Npz;
import dev.qncd.models.NoiseModel;
import dev.qncd.models.schedule.NoiseSchedule;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The samplers' update rules against DDIM's original loops ({@code functions/denoising.py}:
 * {@code generalized_steps} with η = 0, 0.5 and 1 on uniform and quad sequences, {@code ddpm_steps}),
 * made by scripts/make_sampler_fixtures.py with a stub noise model both sides compute exactly,
 * ε = 0.8·tanh(x) + 0.1·sin(t/100), and the reference's step noise recorded and fed in here (torch's
 * RNG cannot be reproduced in Java; this is how η &gt; 0 and DDPM are checked exactly). Every x after a
 * step and every x̂_0 are compared.
 */
class SamplerParityTest {
    /** The stub model of the fixture script. */
    static final NoiseModel STUB = (x, t) -> {
        NDArray shift = t.toType(DataType.FLOAT32, false).div(100f).sin().mul(0.1f).reshape(-1, 1, 1, 1);
        return x.tanh().mul(0.8f).add(shift);
    };

    @ParameterizedTest
    @CsvSource({"ddim_eta0, ddim, 0.0, UNIFORM", "ddim_eta05, ddim, 0.5, UNIFORM", "ddim_eta1_quad, ddim, 1.0, QUAD",
        "ddpm, ddpm, 0, UNIFORM"})
    void everyStepMatchesTheOriginalLoop(String name, String kind, double eta, Timesteps.Skip skip) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Npz.read(DdimSamplingParityTest.fixture("samplers.npz"), m);
            NoiseSchedule schedule = new NoiseSchedule(f.get("betas").toDoubleArray());
            int[] seq = toInts(f.get(name + "_seq"));
            assertArrayEquals(seq, Timesteps.sequence(skip, seq.length, 1000), "timestep sequence of " + name);
            Sampler sampler = kind.equals("ddim") ? new DdimSampler(schedule, seq, eta)
                    : new DdpmSampler(schedule, seq, true);
            NDArray noise = f.get(name + "_noise");
            NDArray xs = f.get(name + "_xs");
            NDArray x0s = f.get(name + "_x0");
            NDArray x = f.get("x_T");
            long batch = x.getShape().get(0);
            for (int i = 0; i < sampler.numSteps(); i++) {
                int t = sampler.t(i);
                NDArray eps = STUB.forward(x, m.full(new Shape(batch), t, DataType.INT64));
                NDArray z = sampler.needsNoise(i) ? noise.get(new NDIndex(i)) : null;
                if (kind.equals("ddpm") && t == 0) {
                    assertNull(z, "no noise at t = 0");
                }
                Sampler.StepOutput out = sampler.step(eps, i, x, z);
                assertClose(x0s.get(new NDIndex(i)), out.x0(), name + " x0 at step " + i + " (t = " + t + ")");
                assertClose(xs.get(new NDIndex(i + 1)), out.prev(), name + " x after step " + i + " (t = " + t + ")");
                x = out.prev();
            }
            assertEquals(seq.length, sampler.numSteps());
        }
    }

    /**
     * float32 formulas evaluated in a different order than torch's: agreement to 1e-5 relative to the
     * larger of 1 and max |expected| (x̂_0 = (x − √(1−ᾱ)ε)/√ᾱ reaches |x̂_0| ≈ 20 at large t).
     */
    private static void assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what);
        float scale = Math.max(1f, expected.abs().max().getFloat());
        float err = expected.sub(actual).abs().max().getFloat();
        assertTrue(err <= 1e-5f * scale, what + ": max |Δ| = " + err + " (scale " + scale + ")");
    }

    static int[] toInts(NDArray a) {
        long[] l = a.toLongArray();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = (int) l[i];
        }
        return out;
    }
}
