package dev.qncd.models.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qncd.models.schedule.BetaSchedule;
import dev.qncd.models.schedule.NoiseSchedule;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A long sampling loop keeps nothing but its result: step temporaries, noise and hook arrays are freed. */
class SamplingLoopMemoryTest {
    @Test
    void hundredStepsLeaveOnlyTheResult() {
        try (NDManager m = NDManager.newBaseManager()) {
            NoiseSchedule schedule = NoiseSchedule.of(BetaSchedule.LINEAR, 1e-4, 0.02, 1000);
            int[] seq = Timesteps.sequence(Timesteps.Skip.UNIFORM, 100, 1000);
            AtomicInteger afterSteps = new AtomicInteger();
            StepHook hook = new StepHook() {
                @Override
                public NDArray correctEps(int index, int t, NDArray x, NDArray eps) {
                    return eps.sub(eps.mean()); // allocates in the step's manager
                }

                @Override
                public void afterStep(int index, int t, NDArray x, NDArray eps, Sampler.StepOutput out) {
                    afterSteps.incrementAndGet();
                }
            };
            NDArray xT = m.randomNormal(new Shape(2, 3, 4, 4));
            int before = m.getManagedArrays().size();
            int[] inStep = new int[101];
            NDArray x0 = new SamplingLoop(SamplerParityTest.STUB, new DdpmSampler(schedule, seq, true), hook)
                    .run(xT, (done, total) -> inStep[done] = m.getManagedArrays().size());
            assertEquals(100, afterSteps.get());
            assertEquals(before + 1, m.getManagedArrays().size(), "only x_0 is added to the caller's manager");
            assertEquals(inStep[10], inStep[100], "arrays alive after step 10 and after step 100");
            assertEquals(new Shape(2, 3, 4, 4), x0.getShape());
        }
    }

    /**
     * 1000 DDPM steps with runtime noise estimation every 3 steps (333 extra model calls, recomputed
     * steps, the variance correction) leave the same number of arrays alive after step 10 as after step
     * 1000, and only x_0 in the caller's manager; the estimator keeps numbers, not arrays.
     */
    @Test
    void thousandStepsWithNoiseEstimationStayFlat() {
        try (NDManager m = NDManager.newBaseManager()) {
            NoiseSchedule schedule = NoiseSchedule.of(BetaSchedule.LINEAR, 1e-4, 0.02, 1000);
            int[] seq = Timesteps.sequence(Timesteps.Skip.UNIFORM, 1000, 1000);
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(new NoiseEstimationConfig(3, true, false),
                    SamplerParityTest.STUB);
            NDArray xT = m.randomNormal(new Shape(2, 3, 4, 4));
            int before = m.getManagedArrays().size();
            int[] inStep = new int[1001];
            NDArray x0 = new SamplingLoop(SamplerParityTest.STUB, new DdpmSampler(schedule, seq, true), StepHook.NONE, est)
                    .run(xT, (done, total) -> inStep[done] = m.getManagedArrays().size());
            assertEquals(RuntimeNoiseEstimator.estimationSteps(1000, 3).length, est.estimates().size());
            assertEquals(333, est.estimates().size());
            assertEquals(before + 1, m.getManagedArrays().size(), "only x_0 is added to the caller's manager");
            assertEquals(inStep[10], inStep[1000], "arrays alive after step 10 and after step 1000");
            assertEquals(new Shape(2, 3, 4, 4), x0.getShape());
        }
    }
}
