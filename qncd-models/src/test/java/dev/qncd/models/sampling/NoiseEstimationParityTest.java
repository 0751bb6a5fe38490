package dev.qncd.models.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.io.Npz;
import dev.qncd.models.NoiseModel;
import dev.qncd.models.schedule.NoiseSchedule;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Runtime noise estimation against scripts/make_noise_fixtures.py, a Python re-implementation of the
 * reference's mechanism (plms.py: reverse_now schedule, sample_reverse, correction in p_sample_plms) on
 * DDIM and DDPM steps, with a stub model both sides compute exactly (ε = 0.8·tanh(x) + 0.1·sin(t/100) + b)
 * and every random draw (step noise, re-noising z) recorded and fed in here. Two trajectories per case
 * check the state carried from one batch to the next (or reset).
 */
class NoiseEstimationParityTest {
    static Path fixture() {
        try {
            return Path.of(NoiseEstimationParityTest.class.getResource("/fixtures/noise/estimation.npz").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static NoiseModel biased(float bias) {
        return (x, t) -> SamplerParityTest.STUB.forward(x, t).add(bias);
    }

    /** Hands out the recorded z arrays in order. */
    static RuntimeNoiseEstimator.NoiseSource recorded(NDArray zs, int[] next) {
        return (manager, shape) -> {
            NDArray z = zs.get(new NDIndex(next[0]++)).duplicate();
            z.attach(manager);
            assertEquals(shape, z.getShape());
            return z;
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim_k4", "ddim_eta05_k2_reset_var", "ddpm_k3_var"})
    void everyStepAndEstimateMatchesThePythonReimplementation(String name) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Npz.read(fixture(), m);
            NoiseSchedule schedule = new NoiseSchedule(f.get("betas").toDoubleArray());
            int[] seq = SamplerParityTest.toInts(f.get(name + "_seq"));
            double[] p = f.get(name + "_params").toDoubleArray();
            int k = (int) p[0];
            boolean ddpm = p[5] != 0;
            NoiseEstimationConfig cfg = new NoiseEstimationConfig(k, p[3] != 0, p[4] != 0);
            Sampler sampler = ddpm ? new DdpmSampler(schedule, seq, true) : new DdimSampler(schedule, seq, p[1]);
            int[] next = {0};
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(cfg, biased((float) p[2]), recorded(f.get(name + "_z"), next));
            NDArray xs = f.get(name + "_xs");
            NDArray noises = f.get(name + "_noise");
            long trajectories = xs.getShape().get(0);
            for (int traj = 0; traj < trajectories; traj++) {
                est.startTrajectory();
                NDArray x = f.get(name + "_xT").get(new NDIndex(traj));
                long batch = x.getShape().get(0);
                for (int i = 0; i < sampler.numSteps(); i++) {
                    NDArray eps = biased((float) p[2]).forward(x, m.full(new Shape(batch), sampler.t(i), ai.djl.ndarray.types.DataType.INT64));
                    NDArray noise = sampler.needsNoise(i) ? noises.get(new NDIndex(traj + "," + i)) : null;
                    RuntimeNoiseEstimator.CorrectedStep c = est.step(sampler, i, x, eps, noise);
                    assertClose(xs.get(new NDIndex(traj + "," + (i + 1))), c.out().prev(),
                            name + " trajectory " + traj + " x after step " + i + " (t = " + sampler.t(i) + ")");
                    x = c.out().prev();
                }
            }
            assertEquals(f.get(name + "_z").getShape().get(0), next[0], "every recorded z used");
            assertEstimates(f.get(name + "_est"), est.estimates(), name);
        }
    }

    /** The loop drives the estimator exactly as the manual loop above (DDIM η = 0 draws no step noise). */
    @Test
    void samplingLoopRunsTheSameMechanism() throws Exception {
        String name = "ddim_k4";
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Npz.read(fixture(), m);
            NoiseSchedule schedule = new NoiseSchedule(f.get("betas").toDoubleArray());
            int[] seq = SamplerParityTest.toInts(f.get(name + "_seq"));
            double[] p = f.get(name + "_params").toDoubleArray();
            NoiseModel model = biased((float) p[2]);
            int[] next = {0};
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(NoiseEstimationConfig.everyK((int) p[0]), model,
                    recorded(f.get(name + "_z"), next));
            SamplingLoop loop = new SamplingLoop(model, new DdimSampler(schedule, seq, 0.0), StepHook.NONE, est);
            NDArray xs = f.get(name + "_xs");
            for (int traj = 0; traj < 2; traj++) {
                NDArray x0 = loop.run(f.get(name + "_xT").get(new NDIndex(traj)), null);
                assertClose(xs.get(new NDIndex(traj + "," + seq.length)), x0, "loop, trajectory " + traj + " x_0");
            }
            assertEstimates(f.get(name + "_est"), est.estimates(), name + " (loop)");
        }
    }

    @Test
    void scheduleEqualsTheReferenceCounter() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = Npz.read(fixture(), m);
            int cases = 0;
            for (Map.Entry<String, NDArray> e : f.entrySet()) {
                if (e.getKey().startsWith("schedule_")) {
                    String[] nk = e.getKey().substring("schedule_n".length()).split("_k");
                    int[] expected = SamplerParityTest.toInts(e.getValue());
                    assertArrayEquals(expected, RuntimeNoiseEstimator.estimationSteps(Integer.parseInt(nk[0]),
                            Integer.parseInt(nk[1])), e.getKey());
                    cases++;
                }
            }
            assertTrue(cases >= 5, "schedule cases in the fixture: " + cases);
        }
    }

    /**
     * μ to 2e-5 absolute (a float32 mean of 384 values of size ~1, from trajectories that agree to about
     * 1e-6), s to 1e-5 relative (torch.std's Welford pass vs a two-pass sum of squares).
     */
    private static void assertEstimates(NDArray expected, List<NoiseEstimate> actual, String name) {
        double[] e = expected.toDoubleArray();
        assertEquals(e.length / 4, actual.size(), name + ": number of estimates");
        for (int i = 0; i < actual.size(); i++) {
            NoiseEstimate a = actual.get(i);
            String what = name + " estimate " + i + " " + a;
            assertEquals((int) e[4 * i], a.batch(), what);
            assertEquals((int) e[4 * i + 1], a.step(), what);
            assertEquals(e[4 * i + 2], a.mean(), 2e-5, what);
            assertEquals(e[4 * i + 3], a.std(), 1e-5 * e[4 * i + 3], what);
        }
    }

    /**
     * Same tolerance as SamplerParityTest (1e-5 of max(1, max |x|): float32 formulas in another order),
     * doubled because the corrected steps subtract a μ that itself carries float32 error.
     */
    private static void assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what);
        float scale = Math.max(1f, expected.abs().max().getFloat());
        float err = expected.sub(actual).abs().max().getFloat();
        assertTrue(err <= 2e-5f * scale, what + ": max |Δ| = " + err + " (scale " + scale + ")");
    }
}
