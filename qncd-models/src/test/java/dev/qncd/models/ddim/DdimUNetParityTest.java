package dev.qncd.models.ddim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.nn.LayerFactory;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The Java UNet against DDIM's original {@code models/diffusion.py} (scripts/make_ddim_fixtures.py):
 * same weights, same inputs, eps compared to max |Δ| ≤ 1e-4 · max |eps| (float32 results whose
 * summation order differs between libtorch builds and between bmm layouts).
 */
class DdimUNetParityTest {
    static Path fixture(String name) {
        try {
            return Path.of(DdimUNetParityTest.class.getResource("/fixtures/ddim/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @CsvSource({"tiny, tiny.ckpt", "tiny_pool, tiny_pool.ckpt", "tiny_pool, tiny_pool_legacy.ckpt"})
    void forwardMatchesTheOriginal(String config, String ckpt) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            DdimConfig cfg = DdimConfig.load(fixture(config + ".yml"));
            Map<String, NDArray> sd = Checkpoints.read(fixture(ckpt), m);
            try (DdimUNet unet = DdimUNet.load(cfg, sd, LayerFactory.fullPrecision(), m, ckpt)) {
                Map<String, NDArray> io = Npz.read(fixture(config + "_forward.npz"), m);
                NDArray eps = unet.forward(io.get("x"), io.get("t"));
                NDArray expected = io.get("eps");
                assertEquals(expected.getShape(), eps.getShape());
                float scale = expected.abs().max().getFloat();
                float err = eps.sub(expected).abs().max().getFloat();
                assertTrue(err <= 1e-4f * scale, config + ": max |eps - eps_ref| = " + err + " (scale " + scale + ")");
            }
        }
    }

    @Test
    void wrongCheckpointListsEveryProblem() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            DdimConfig cfg = DdimConfig.load(fixture("tiny.yml"));
            Map<String, NDArray> sd = new LinkedHashMap<>(Checkpoints.read(fixture("tiny.ckpt"), m));
            sd.remove("down.0.block.0.conv1.weight");
            sd.put("conv_in.weight", m.zeros(new ai.djl.ndarray.types.Shape(64, 3, 3, 3)));
            sd.put("extra.weight", m.zeros(new ai.djl.ndarray.types.Shape(1)));
            QncdException e = assertThrows(QncdException.class,
                    () -> DdimUNet.load(cfg, sd, LayerFactory.fullPrecision(), m, "tiny.ckpt"));
            String msg = e.getMessage();
            assertTrue(msg.contains("missing keys") && msg.contains("down.0.block.0.conv1.weight [32, 32, 3, 3]"), msg);
            assertTrue(msg.contains("conv_in.weight: shape [64, 3, 3, 3] vs expected [32, 3, 3, 3]"), msg);
            assertTrue(msg.contains("unexpected keys") && msg.contains("extra.weight"), msg);
        }
    }

    @Test
    void repeatedForwardDoesNotGrowTheModelsManager() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            DdimConfig cfg = DdimConfig.load(fixture("tiny.yml"));
            try (DdimUNet unet = DdimUNet.load(cfg, Checkpoints.read(fixture("tiny.ckpt"), m),
                    LayerFactory.fullPrecision(), m, "tiny.ckpt")) {
                Map<String, NDArray> io = Npz.read(fixture("tiny_forward.npz"), m);
                try (NDManager step = m.newSubManager()) {
                    unet.forward(io.get("x"), io.get("t"));
                }
                int before = resources(unet.manager());
                for (int i = 0; i < 5; i++) {
                    try (NDManager step = m.newSubManager()) {
                        NDArray x = io.get("x").duplicate();
                        x.attach(step);
                        unet.forward(x, io.get("t"));
                    }
                }
                assertEquals(before, resources(unet.manager()), "arrays left in the model's manager");
                int all = resources(m);
                try (NDManager step = m.newSubManager()) {
                    NDArray x = io.get("x").duplicate();
                    x.attach(step);
                    unet.forward(x, io.get("t"));
                }
                assertEquals(all, resources(m), "arrays left anywhere");
            }
        }
    }

    private static int resources(NDManager m) {
        return m.getManagedArrays().size();
    }
}
