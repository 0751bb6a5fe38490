package dev.qncd.models.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qncd.core.QncdException;
import org.junit.jupiter.api.Test;

/**
 * β schedules and ᾱ against numpy / PyTorch values (printed by numpy 1.24 and torch 1.13 for DDIM's
 * get_beta_schedule with T = 1000, 1e-4..0.02). β: within 1e-15 relative (numpy's exp and our exp may
 * differ in the last bit for the sigmoid schedule; the others are exact); ᾱ: exact float32.
 */
class NoiseScheduleTest {
    private static void check(BetaSchedule s, double b1, double b517, double b999) {
        double[] b = s.betas(0.0001, 0.02, 1000);
        assertEquals(b1, b[1], Math.abs(b1) * 1e-15, s + " beta[1]");
        assertEquals(b517, b[517], Math.abs(b517) * 1e-15, s + " beta[517]");
        assertEquals(b999, b[999], Math.abs(b999) * 1e-15, s + " beta[999]");
    }

    @Test
    void betasMatchNumpy() {
        check(BetaSchedule.LINEAR, 0.00011991991991991993, 0.010398598598598598, 0.02);
        check(BetaSchedule.QUAD, 0.00010264836435083402, 0.00608600539370602, 0.02);
        check(BetaSchedule.CONST, 0.02, 0.02, 0.02);
        check(BetaSchedule.JSD, 0.001001001001001001, 0.002070393374741201, 1.0);
        check(BetaSchedule.SIGMOID, 0.00014979833041933025, 0.011091961739267514, 0.01995079479918297);
    }

    @Test
    void alphaBarMatchesTorchCumprod() {
        NoiseSchedule s = NoiseSchedule.of(BetaSchedule.LINEAR, 0.0001, 0.02, 1000);
        assertEquals(1f, s.alphaBar(-1), 0f);
        assertEquals(0.9998999834060669f, s.alphaBar(0), 0f);
        assertEquals(0.07858724892139435f, s.alphaBar(499), 0f);
        assertEquals(4.035829988424666e-05f, s.alphaBar(999), 0f);
    }

    @Test
    void cosineScheduleIsMonotoneAndCapped() {
        double[] b = BetaSchedule.COSINE.betas(0, 0, 1000);
        for (int i = 1; i < b.length; i++) {
            assertTrue(b[i] >= b[i - 1] - 1e-12 && b[i] <= 0.999, "beta[" + i + "]");
        }
        assertEquals(0.999, b[999], 0.0);
        assertThrows(QncdException.class, () -> BetaSchedule.parse("warmup"));
        assertEquals(BetaSchedule.SIGMOID, BetaSchedule.parse("Sigmoid"));
    }
}
