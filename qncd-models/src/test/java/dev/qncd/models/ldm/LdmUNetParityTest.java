package dev.qncd.models.ldm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.nn.LayerFactory;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Java UNet against the re-implementation of latent-diffusion's {@code UNetModel} in
 * scripts/make_ldm_fixtures.py (itself checked there against the original openaimodel.py, bit for bit):
 * same weights, same x, t, context, y; eps compared to max |Δ| ≤ 1e-4 · max |eps| (float32 results whose
 * summation order differs between libtorch builds, einsum and bmm layouts, and fused vs composed
 * SiLU/GroupNorm kernels).
 */
class LdmUNetParityTest {
    static Path fixture(String name) {
        try {
            return Path.of(LdmUNetParityTest.class.getResource("/fixtures/ldm/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "tiny_class, tiny_class.ckpt", // class labels, AttentionBlock (num_head_channels, legacy order), scale-shift, up/down ResBlocks
        "tiny_class_new, tiny_class.ckpt", // the same weights read in the new QKV order
        "tiny_sd, tiny_sd.ckpt", // spatial transformer (depth 2), context, prefixed keys in a Lightning checkpoint
        "tiny_cin, tiny_sd.ckpt", // cin256-v2's head rule: legacy, num_heads 1, a context of length 1
        "tiny_pool, tiny_pool.ckpt" // unconditional, average pooling / plain upsampling, AttentionBlock with num_heads
    })
    void forwardMatchesTheReference(String config, String ckpt) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LdmUNetConfig cfg = LdmUNetConfig.load(fixture(config + ".yaml"));
            Map<String, NDArray> sd = Checkpoints.read(fixture(ckpt), m);
            try (LdmUNet unet = LdmUNet.load(cfg, sd, LayerFactory.fullPrecision(), m, ckpt)) {
                Map<String, NDArray> io = Npz.read(fixture(config + "_forward.npz"), m);
                NDArray eps = unet.forward(io.get("x"), io.get("t"), io.get("context"), io.get("y"));
                NDArray expected = io.get("eps");
                assertEquals(expected.getShape(), eps.getShape());
                float scale = expected.abs().max().getFloat();
                float err = eps.sub(expected).abs().max().getFloat();
                assertTrue(err <= 1e-4f * scale, config + ": max |eps - eps_ref| = " + err + " (scale " + scale + ")");
            }
        }
    }
}
