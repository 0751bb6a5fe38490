package dev.qncd.models.cond;

import static dev.qncd.models.autoencoder.StageFixtures.assertClose;
import static dev.qncd.models.autoencoder.StageFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.nn.LayerFactory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The CLIP text transformer against the re-implementation of HuggingFace's {@code CLIPTextModel} in
 * scripts/make_ldm_stage_fixtures.py (tiny: width 64, 2 heads, 2 layers), fed by the tokenizer as
 * {@code FrozenCLIPEmbedder} feeds it; tolerance {@link dev.qncd.models.autoencoder.StageFixtures#RTOL}.
 */
class ClipTextModelParityTest {
    static final ClipTextConfig TINY = new ClipTextConfig(574, 64, 2, 2, 256, 77, 1e-5f);

    @Test
    void frozenClipEmbedderMatchesTheReference() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> io = Npz.read(fixture("tiny_kl_io.npz"), m);
            List<String> prompts = Arrays.asList(new ObjectMapper().readValue(fixture("tiny_kl_prompts.json").toFile(),
                    String[].class));
            NDArray ids = ClipTokenizer.load(fixture("tokenizer")).encode(prompts, m);
            assertArrayEquals(io.get("ids").toLongArray(), ids.toLongArray(), "token ids");
            try (ClipTextModel clip = ClipTextModel.read(fixture("tiny_kl.ckpt"), null, TINY,
                    LayerFactory.fullPrecision(), m)) {
                NDArray hidden = clip.forward(ids);
                assertEquals(new Shape(3, 77, 64), hidden.getShape());
                assertClose(io.get("hidden"), hidden, "last_hidden_state");
                // causal: the first 10 positions do not depend on what follows
                NDArray head = clip.forward(ids.get(":, :10"));
                assertClose(io.get("hidden").get(":, :10, :"), head, "a prefix of the sequence");
                assertEquals(2 * 6, clip.layers().size());
                int arrays = clip.manager().getManagedArrays().size();
                try (NDManager step = m.newSubManager()) {
                    NDArray x = ids.duplicate();
                    x.attach(step);
                    clip.forward(x);
                }
                assertEquals(arrays, clip.manager().getManagedArrays().size(), "forward leaves nothing in the model");
            }
        }
    }

    @Test
    void loadsHuggingFaceKeysAndListsWhatIsWrong() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> io = Npz.read(fixture("tiny_kl_io.npz"), m);
            Map<String, NDArray> hf = new LinkedHashMap<>(
                    Checkpoints.stripPrefix(Checkpoints.read(fixture("tiny_kl.ckpt"), m), ClipTextModel.SD_PREFIX));
            hf.put("vision_model.embeddings.class_embedding", m.zeros(new Shape(8)));
            try (ClipTextModel clip = ClipTextModel.load(TINY, hf, LayerFactory.fullPrecision(), m, "clip.bin")) {
                assertClose(io.get("hidden"), clip.forward(io.get("ids")), "from text_model.* keys");
            }
            ClipTextConfig inferred = ClipTextConfig.inferFrom(hf);
            assertEquals(new ClipTextConfig(574, 64, 2, 1, 256, 77, 1e-5f), inferred,
                    "sizes from the tensors, CLIP's width/64 heads");
            hf.remove("text_model.final_layer_norm.bias");
            hf.put("text_model.encoder.layers.0.mlp.fc1.weight", m.zeros(new Shape(128, 64)));
            QncdException e = assertThrows(QncdException.class,
                    () -> ClipTextModel.load(TINY, hf, LayerFactory.fullPrecision(), m, "clip.bin"));
            assertTrue(e.getMessage().contains("text_model.final_layer_norm.bias [64]")
                    && e.getMessage().contains("mlp.fc1.weight: shape [128, 64] vs expected [256, 64]"), e.getMessage());
            QncdException none = assertThrows(QncdException.class, () -> ClipTextModel.load(TINY,
                    Map.of("model.diffusion_model.x", m.zeros(new Shape(1))), LayerFactory.fullPrecision(), m, "unet.ckpt"));
            assertTrue(none.getMessage().contains("cond_stage_model.transformer.text_model."), none.getMessage());
            try (ClipTextModel clip = ClipTextModel.load(TINY, Checkpoints.read(fixture("tiny_kl.ckpt"), m),
                    LayerFactory.fullPrecision(), m, "tiny_kl.ckpt")) {
                QncdException bad = assertThrows(QncdException.class, () -> clip.forward(m.create(new long[][] {{574}})));
                assertTrue(bad.getMessage().contains("outside the vocabulary"), bad.getMessage());
            }
        }
    }
}
