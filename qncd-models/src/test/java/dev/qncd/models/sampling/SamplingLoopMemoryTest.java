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
}
