package dev.qncd.models.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Images;
import dev.qncd.core.io.Npy;
import dev.qncd.core.io.Npz;
import dev.qncd.models.ddim.DdimConfig;
import dev.qncd.models.ddim.DdimUNet;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.schedule.BetaSchedule;
import dev.qncd.models.schedule.NoiseSchedule;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** DDIM sampling (η = 0, 10 uniform steps) against the reference run of scripts/make_ddim_fixtures.py. */
class DdimSamplingParityTest {
    static Path fixture(String name) {
        try {
            return Path.of(DdimSamplingParityTest.class.getResource("/fixtures/ddim/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void tenStepDdimGivesTheReferenceImagesUpToRounding() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            DdimConfig cfg = DdimConfig.load(fixture("tiny.yml"));
            try (DdimUNet unet = DdimUNet.load(cfg, Checkpoints.read(fixture("tiny.ckpt"), m),
                    LayerFactory.fullPrecision(), m, "tiny.ckpt")) {
                NoiseSchedule schedule = NoiseSchedule.of(BetaSchedule.LINEAR, 0.0001, 0.02, 1000);
                int[] seq = Timesteps.sequence(Timesteps.Skip.UNIFORM, 10, 1000);
                assertArrayEquals(new int[] {0, 100, 200, 300, 400, 500, 600, 700, 800, 900}, seq);
                SamplingLoop loop = new SamplingLoop(unet, new DdimSampler(schedule, seq, 0.0), StepHook.NONE);
                NDArray x0 = loop.run(Npy.read(fixture("tiny_start_code.npy"), m), null);
                Map<String, NDArray> ref = Npz.read(fixture("tiny_ddim10.npz"), m);
                // float32 differences accumulate over 10 model evaluations; 1e-3 of the [-1, 1] range
                float err = x0.sub(ref.get("x0")).abs().max().getFloat();
                assertTrue(err < 1e-3f, "max |x0 - x0_ref| = " + err);
                byte[] img = Images.toUint8(x0).toByteArray();
                byte[] exp = ref.get("arr_0").toByteArray();
                assertEquals(exp.length, img.length);
                for (int i = 0; i < img.length; i++) {
                    assertTrue(Math.abs((img[i] & 0xff) - (exp[i] & 0xff)) <= 1, "pixel " + i + " differs by more than 1");
                }
            }
        }
    }

    @Test
    void timestepSequencesMatchTheReference() {
        // numpy: [int(s) for s in np.linspace(0, np.sqrt(1000 * 0.8), n) ** 2]
        assertArrayEquals(new int[] {0, 50, 200, 450, 800}, Timesteps.sequence(Timesteps.Skip.QUAD, 5, 1000));
        int[] q100 = Timesteps.sequence(Timesteps.Skip.QUAD, 100, 1000);
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 2, 2, 3, 5, 6, 8, 9}, java.util.Arrays.copyOf(q100, 12));
        assertArrayEquals(new int[] {736, 752, 768, 783, 800}, java.util.Arrays.copyOfRange(q100, 95, 100));
        assertEquals(334, Timesteps.sequence(Timesteps.Skip.UNIFORM, 300, 1000).length, "skip 3, as range(0, 1000, 3)");
    }
}
