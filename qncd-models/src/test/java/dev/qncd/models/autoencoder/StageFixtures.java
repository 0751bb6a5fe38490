package dev.qncd.models.autoencoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Fixtures of scripts/make_ldm_stage_fixtures.py and the float32 comparison used by the parity tests. */
public final class StageFixtures {
    /**
     * Parity tolerance: max |actual − expected| ≤ 1e-5 · max |expected|. The reference and qncd run the
     * same float32 maths through different kernels (conv algorithms, matmul blocking, GroupNorm as
     * LayerNorm), so results differ in the last bits; 1e-5 of the output scale is a few float32 ulps of
     * accumulated rounding and far below any real mismatch (a wrong weight or order moves outputs by ~1e-1).
     */
    public static final float RTOL = 1e-5f;

    private static final Logger LOG = LoggerFactory.getLogger(StageFixtures.class);

    private StageFixtures() {}

    /** @return the path of {@code fixtures/ldm_stages/<name>} */
    public static Path fixture(String name) {
        try {
            return Path.of(StageFixtures.class.getResource("/fixtures/ldm_stages/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing fixture " + name + " (scripts/make_ldm_stage_fixtures.py)", e);
        }
    }

    /**
     * @return the relative error max|Δ| / max|expected|, after asserting it is within {@link #RTOL}
     */
    public static float assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what + ": shape");
        float scale = expected.abs().max().getFloat();
        float err = actual.sub(expected).abs().max().getFloat();
        float rel = err / Math.max(scale, Float.MIN_NORMAL);
        LOG.info("parity {}: max |Δ| {} at scale {} (relative {})", what, err, scale, rel);
        assertTrue(rel <= RTOL, what + ": max |Δ| = " + err + " at scale " + scale + " (" + rel + " > " + RTOL + ")");
        return rel;
    }
}
