package dev.qncd.models.cond;

import static dev.qncd.models.autoencoder.StageFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The class embedder against the reference's {@code ClassEmbedder}: a table lookup, compared exactly. */
class ClassEmbedderTest {
    @Test
    void embedsLabelsIncludingTheUnconditionalClass() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            ClassEmbedder.Config cfg = ClassEmbedder.Config.load(fixture("tiny_vq.yaml"));
            assertEquals(new ClassEmbedder.Config(1001, 32, "class_label"), cfg);
            Map<String, NDArray> io = Npz.read(fixture("tiny_vq_io.npz"), m);
            try (ClassEmbedder e = ClassEmbedder.read(fixture("tiny_vq.ckpt"), null, cfg, m)) {
                NDArray ctx = e.forward(io.get("labels"));
                assertEquals(new Shape(4, 1, 32), ctx.getShape());
                assertTrue(io.get("class_ctx").contentEquals(ctx), "a float16-exact table looks up exactly");
                assertEquals(OptionalInt.of(1000), e.unconditionalClass());
                QncdException bad = assertThrows(QncdException.class, () -> e.forward(m.create(new long[] {1001})));
                assertTrue(bad.getMessage().contains("1000 is the unconditional class"), bad.getMessage());
            }
            Map<String, NDArray> own = new LinkedHashMap<>();
            own.put("embedding.weight", Checkpoints.read(fixture("tiny_vq.ckpt"), m)
                    .get("cond_stage_model.embedding.weight"));
            try (ClassEmbedder e = ClassEmbedder.load(cfg, own, m, "embedder.pt")) {
                assertTrue(io.get("class_ctx").contentEquals(e.forward(io.get("labels"))), "without the prefix");
            }
            QncdException wrong = assertThrows(QncdException.class,
                    () -> ClassEmbedder.load(new ClassEmbedder.Config(1000, 32, "class"), own, m, "embedder.pt"));
            assertTrue(wrong.getMessage().contains("embedding.weight: shape [1001, 32] vs expected [1000, 32]"),
                    wrong.getMessage());
            QncdException notClass = assertThrows(QncdException.class,
                    () -> ClassEmbedder.Config.load(fixture("tiny_kl.yaml")));
            assertTrue(notClass.getMessage().contains("FrozenCLIPEmbedder"), notClass.getMessage());
        }
    }
}
