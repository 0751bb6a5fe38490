package dev.qncd.models.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.models.NoiseModel;
import dev.qncd.models.schedule.BetaSchedule;
import dev.qncd.models.schedule.NoiseSchedule;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The estimator on an exact denoiser: data concentrated at one point c, for which
 * ε(x_t, t) = (x_t − √ᾱ_t·c)/√(1 − ᾱ_t) is the true noise of any x_t; a constant b added to it is the
 * "quantization" bias.
 *
 * <p>Statistics behind the tolerances: with x_{t−1} = √ᾱ_{t−1}·c + √(1 − ᾱ_{t−1})·ε on the exact
 * trajectory and x̂_t = √f·x_{t−1} + √(1 − f)·z (f = ᾱ_t/ᾱ_{t−1}), the residual is
 * ε̂ − z = b + A·ε + (B − 1)·z with A = √(f(1 − ᾱ_{t−1})/(1 − ᾱ_t)), B = √((1 − f)/(1 − ᾱ_t)); since
 * A² + B² = 1 its elements are i.i.d. N(b, 2(1 − B)). Over N elements the estimated mean has standard
 * error √(2(1 − B)/N) and the estimated std √(2(1 − B))/√(2N). Tests allow 5 standard errors (a two-sided
 * miss has probability 6e-7 for a fresh seed; the seeds are fixed) plus float32 rounding.
 */
class RuntimeNoiseEstimatorTest {
    static final NoiseSchedule SCHEDULE = NoiseSchedule.of(BetaSchedule.LINEAR, 1e-4, 0.02, 1000);
    static final float C = 0.5f;

    /** The exact denoiser of data at c, plus a bias. */
    static NoiseModel pointMass(float bias) {
        return (x, t) -> {
            float a = SCHEDULE.alphaBar((int) t.getLong(0));
            return x.sub((float) Math.sqrt(a) * C).div((float) Math.sqrt(1 - a)).add(bias);
        };
    }

    /** √(2(1 − B)): the std of ε̂ − z for the exact denoiser at a step. */
    static double residualStd(RuntimeNoiseEstimator.StepInfo info) {
        double f = (double) info.alphaBar() / info.alphaBarPrev();
        double b = Math.sqrt((1 - f) / (1 - info.alphaBar()));
        return Math.sqrt(2 * (1 - b));
    }

    @Test
    void scheduleFollowsTheReferenceRule() {
        // (n − 2) mod k = k/2 with n = index + 1, Python's modulo: k = 10 -> n = 7, 17, ...
        assertArrayEquals(new int[] {6, 16}, RuntimeNoiseEstimator.estimationSteps(20, 10));
        assertArrayEquals(new int[] {6, 16, 26, 36, 46, 56, 66, 76, 86, 96}, RuntimeNoiseEstimator.estimationSteps(100, 10));
        // k = 2: (−1) mod 2 = 1 = k/2, so the very first step estimates, then every odd n
        assertArrayEquals(new int[] {0, 2, 4, 6}, RuntimeNoiseEstimator.estimationSteps(7, 2));
        assertArrayEquals(new int[] {0, 1, 2}, RuntimeNoiseEstimator.estimationSteps(3, 1));
        assertArrayEquals(new int[] {2, 5, 8}, RuntimeNoiseEstimator.estimationSteps(10, 3));
        assertArrayEquals(new int[] {}, RuntimeNoiseEstimator.estimationSteps(6, 10), "fewer steps than the first estimate");
    }

    @Test
    void configValidation() {
        QncdException e = assertThrows(QncdException.class, () -> new NoiseEstimationConfig(0, false, false));
        assertTrue(e.getMessage().contains("--reverse_interval must be at least 1"), e.getMessage());
        assertEquals(10, NoiseEstimationConfig.REFERENCE.interval());
        assertFalse(NoiseEstimationConfig.REFERENCE.varianceCorrection());
        assertFalse(NoiseEstimationConfig.REFERENCE.resetPerBatch());
    }

    @Test
    void recoversAConstantBias() {
        Engine.getInstance().setRandomSeed(42);
        float b = 0.2f;
        try (NDManager m = NDManager.newBaseManager()) {
            Sampler sampler = new DdimSampler(SCHEDULE, Timesteps.sequence(Timesteps.Skip.UNIFORM, 100, 1000), 0);
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(NoiseEstimationConfig.REFERENCE, pointMass(b));
            est.startTrajectory();
            Shape shape = new Shape(8, 3, 32, 32);
            long n = shape.size();
            for (int i : new int[] {0, 30, 60, 90, 98, 99}) {
                RuntimeNoiseEstimator.StepInfo info = RuntimeNoiseEstimator.StepInfo.of(sampler, i);
                float aPrev = info.alphaBarPrev();
                NDArray xPrev = m.randomNormal(shape).mul((float) Math.sqrt(1 - aPrev)).add((float) Math.sqrt(aPrev) * C);
                int before = m.getManagedArrays().size();
                NoiseEstimate e = est.estimate(info, xPrev);
                assertEquals(before, m.getManagedArrays().size(), "the estimate keeps no array");
                double sd = residualStd(info);
                // float32: x̂_t − √ᾱ_t·c loses ~1e-7 absolute, divided by √(1 − ᾱ_t) ≥ 0.01 at t = 0
                double floor = 5e-5;
                String what = "step " + i + " (t = " + info.t() + ", residual std " + sd + "): " + e;
                assertEquals(b, e.mean(), 5 * sd / Math.sqrt(n) + floor, what);
                assertEquals(sd, e.std(), 5 * sd / Math.sqrt(2.0 * n) + floor, what);
                assertEquals(e.mean(), est.mean(), 0f, "the estimate is the current correction");
                assertEquals(i, e.step());
                assertEquals(info.t(), e.t());
            }
            assertEquals(6, est.estimates().size());
            // The per-batch statistic is one scalar over every element: a per-channel bias is averaged.
            NDArray channelBias = m.create(new float[] {0.3f, 0f, -0.3f}).reshape(1, 3, 1, 1);
            NoiseModel perChannel = (x, t) -> pointMass(b).forward(x, t).add(channelBias);
            RuntimeNoiseEstimator global = new RuntimeNoiseEstimator(NoiseEstimationConfig.REFERENCE, perChannel);
            global.startTrajectory();
            RuntimeNoiseEstimator.StepInfo info = RuntimeNoiseEstimator.StepInfo.of(sampler, 50);
            NDArray xPrev = m.randomNormal(shape).mul((float) Math.sqrt(1 - info.alphaBarPrev()))
                    .add((float) Math.sqrt(info.alphaBarPrev()) * C);
            NoiseEstimate e = global.estimate(info, xPrev);
            double sd = residualStd(info);
            assertEquals(b, e.mean(), 5 * sd / Math.sqrt(n) + 5e-5, "per-channel biases average out: " + e);
            // the std then also holds the spread of the channel biases: √(sd² + 0.06)
            assertEquals(Math.sqrt(sd * sd + 0.06), e.std(), 5 * Math.sqrt(sd * sd + 0.06) / Math.sqrt(2.0 * n) + 1e-3, e.toString());
        }
    }

    /**
     * With the exact model the only change is the estimation noise: one estimate (10 DDIM steps, k = 10:
     * at step 6, on the exact trajectory), then steps 7..9 use ε − μ. Each x̂_0 of the exact model shifts by
     * √((1 − ᾱ_t)/ᾱ_t)·μ, and the last step (t = 0, ᾱ_prev = 1) returns x̂_0, so the corrected sample is
     * the plain one plus √((1 − ᾱ_0)/ᾱ_0)·μ ≈ 0.01·μ, and |μ| is within the estimation noise.
     */
    @Test
    void zeroBiasChangesOnlyByTheEstimationNoise() {
        Engine.getInstance().setRandomSeed(7);
        try (NDManager m = NDManager.newBaseManager()) {
            Sampler sampler = new DdimSampler(SCHEDULE, Timesteps.sequence(Timesteps.Skip.UNIFORM, 10, 1000), 0);
            Shape shape = new Shape(8, 3, 32, 32);
            float aT = SCHEDULE.alphaBar(sampler.t(0));
            NDArray xT = m.randomNormal(shape).mul((float) Math.sqrt(1 - aT)).add((float) Math.sqrt(aT) * C);
            NoiseModel exact = pointMass(0f);
            NDArray plain = new SamplingLoop(exact, sampler, StepHook.NONE).run(xT, null);
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(NoiseEstimationConfig.REFERENCE, exact);
            NDArray corrected = new SamplingLoop(exact, sampler, StepHook.NONE, est).run(xT, null);
            assertEquals(1, est.estimates().size());
            NoiseEstimate e = est.estimates().get(0);
            assertEquals(6, e.step());
            double sd = residualStd(RuntimeNoiseEstimator.StepInfo.of(sampler, 6));
            assertTrue(Math.abs(e.mean()) <= 5 * sd / Math.sqrt(shape.size()), "zero bias estimated as " + e);
            float a0 = SCHEDULE.alphaBar(0);
            float shift = (float) Math.sqrt((1 - a0) / a0) * e.mean();
            float err = corrected.sub(plain).sub(shift).abs().max().getFloat();
            // float32 rounding of the last step's x̂_0 = (x − √(1 − ᾱ_0)ε)/√ᾱ_0 with |x| ≈ 0.5
            assertTrue(err <= 1e-5f, "corrected − plain − 0.01·μ: max " + err);
            assertTrue(plain.sub(C).abs().max().getFloat() <= 1e-4f, "the exact model lands on c");
        }
    }

    /**
     * A biased model through the whole loop. The reference estimates on the x_{t−1} that the biased
     * prediction produced, so for the exact denoiser the residual is not b + noise but
     * ε̂ − z = A·(e + b) + (B − 1)·z, e the true noise of x_t (a derivation in docs/QUANTIZATION.md):
     * checked at both estimates (20 steps, k = 10: steps 6 and 16) to 5 standard errors of the z term,
     * |1 − B|/√N. The last step (t = 0, ᾱ_prev = 1) returns x̂_0 = c − √((1 − ᾱ_0)/ᾱ_0)·(b − μ), μ the
     * latest estimate.
     */
    @Test
    void biasedModelInTheLoop() {
        Engine.getInstance().setRandomSeed(3);
        float b = 0.2f;
        try (NDManager m = NDManager.newBaseManager()) {
            Sampler sampler = new DdimSampler(SCHEDULE, Timesteps.sequence(Timesteps.Skip.UNIFORM, 20, 1000), 0);
            Shape shape = new Shape(8, 3, 32, 32);
            NDArray xT = m.randomNormal(shape);
            NoiseModel biased = pointMass(b);
            double[] noiseMean = new double[20];
            StepHook trueNoise = new StepHook() {
                @Override
                public void afterStep(int index, int t, NDArray x, NDArray eps, Sampler.StepOutput out) {
                    float a = SCHEDULE.alphaBar(t);
                    noiseMean[index] = x.sub((float) Math.sqrt(a) * C).div((float) Math.sqrt(1 - a)).mean().getFloat();
                }
            };
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(NoiseEstimationConfig.REFERENCE, biased);
            NDArray corrected = new SamplingLoop(biased, sampler, trueNoise, est).run(xT, null);
            assertEquals(2, est.estimates().size());
            for (NoiseEstimate e : est.estimates()) {
                RuntimeNoiseEstimator.StepInfo info = RuntimeNoiseEstimator.StepInfo.of(sampler, e.step());
                double f = (double) info.alphaBar() / info.alphaBarPrev();
                double a = Math.sqrt(f * (1 - info.alphaBarPrev()) / (1 - info.alphaBar()));
                double bb = Math.sqrt((1 - f) / (1 - info.alphaBar()));
                double expected = a * (noiseMean[e.step()] + b);
                assertEquals(expected, e.mean(), 5 * Math.abs(1 - bb) / Math.sqrt(shape.size()) + 1e-4,
                        e + ", A = " + a + ", mean true noise " + noiseMean[e.step()]);
            }
            float a0 = SCHEDULE.alphaBar(0);
            float shift = (float) Math.sqrt((1 - a0) / a0) * (b - est.mean());
            float err = corrected.sub(C - shift).abs().max().getFloat();
            assertTrue(err <= 1e-5f, "x_0 = c − √((1 − ᾱ_0)/ᾱ_0)·(b − μ): max error " + err);
        }
    }

    /**
     * The bookkeeping of the step protocol on a stub model: model calls, which ε each step uses, the
     * recomputed step reusing the step noise, the variance correction's noise factor, and μ carried into
     * the next trajectory (the reference) or reset.
     */
    @Test
    void stepProtocol() {
        Engine.getInstance().setRandomSeed(5);
        try (NDManager m = NDManager.newBaseManager()) {
            Sampler sampler = new DdpmSampler(SCHEDULE, Timesteps.sequence(Timesteps.Skip.UNIFORM, 10, 1000), true);
            AtomicInteger calls = new AtomicInteger();
            NoiseModel counted = (x, t) -> {
                calls.incrementAndGet();
                return SamplerParityTest.STUB.forward(x, t).add(0.1f);
            };
            RuntimeNoiseEstimator est = new RuntimeNoiseEstimator(new NoiseEstimationConfig(4, true, false), counted);
            assertThrows(IllegalStateException.class, () -> est.step(sampler, 0, m.zeros(new Shape(1)), m.zeros(new Shape(1)), null),
                    "a step before startTrajectory");
            est.startTrajectory();
            NDArray x = m.randomNormal(new Shape(2, 3, 4, 4));
            for (int i = 0; i < sampler.numSteps(); i++) {
                NDArray eps = counted.forward(x, m.full(new Shape(2), sampler.t(i), DataType.INT64));
                NDArray noise = sampler.needsNoise(i) ? m.randomNormal(x.getShape()) : null;
                float muBefore = est.mean();
                float factorBefore = est.noiseFactor(sampler.noiseStd(i));
                int callsBefore = calls.get();
                RuntimeNoiseEstimator.CorrectedStep c = est.step(sampler, i, x, eps, noise);
                boolean estimating = i == 3 || i == 7; // k = 4: (n − 2) mod 4 = 2 at n = 4, 8
                assertEquals(estimating, c.estimate() != null, "step " + i);
                assertEquals(estimating ? 1 : 0, calls.get() - callsBefore, "extra model calls at step " + i);
                float mu = estimating ? c.estimate().mean() : muBefore;
                float factor = estimating ? est.noiseFactor(sampler.noiseStd(i)) : factorBefore;
                assertEquals(0f, c.eps().sub(eps.sub(mu)).abs().max().getFloat(), 0f, "ε used at step " + i);
                NDArray expected = sampler.step(eps.sub(mu), i, x, noise == null ? null : noise.mul(factor)).prev();
                assertEquals(0f, c.out().prev().sub(expected).abs().max().getFloat(), 1e-6f, "x after step " + i);
                if (estimating) {
                    double sigma = sampler.noiseStd(i);
                    double s = c.estimate().std();
                    assertEquals(Math.max(sigma - s / 4, 0) / sigma, factor, 1e-6, "noise factor (σ − s/4)/σ");
                }
                x = c.out().prev();
            }
            float last = est.mean();
            est.startTrajectory();
            assertEquals(last, est.mean(), 0f, "the reference carries μ into the next batch");
            assertTrue(est.estimatesAt(3) && !est.estimatesAt(2));
            RuntimeNoiseEstimator reset = new RuntimeNoiseEstimator(new NoiseEstimationConfig(1, false, true), counted);
            reset.startTrajectory();
            reset.step(sampler, 0, x, counted.forward(x, m.full(new Shape(2), sampler.t(0), DataType.INT64)), m.randomNormal(x.getShape()));
            assertTrue(reset.mean() != 0f);
            reset.startTrajectory();
            assertEquals(0f, reset.mean(), 0f, "--reverse_reset starts each batch uncorrected");
        }
    }
}
