package dev.qncd.models.ldm;

import static dev.qncd.models.ldm.LdmUNetParityTest.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantAttentionMatmul.ScalePlacement;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.PathGlob;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The LDM UNet's layers are reachable by their original key paths, the decoder's skip connections get
 * the split point, the attention matmuls the reference's scale placement, and the blocks the hooks the
 * QNCD feature smoothing needs.
 */
class LdmUNetLayersTest {
    /** Records what the model asks the factory for. */
    static final class Recording implements LayerFactory {
        final LayerFactory fp = LayerFactory.fullPrecision();
        final Map<String, Integer> splits = new LinkedHashMap<>();
        final Map<String, ScalePlacement> placements = new LinkedHashMap<>();

        @Override
        public QuantLayer conv2d(String path, NDArray w, NDArray b, int stride, int padding, int split) {
            splits.put(path, split);
            return fp.conv2d(path, w, b, stride, padding, split);
        }

        @Override
        public QuantLayer conv1d(String path, NDArray w, NDArray b) {
            return fp.conv1d(path, w, b);
        }

        @Override
        public QuantLayer linear(String path, NDArray w, NDArray b) {
            return fp.linear(path, w, b);
        }

        @Override
        public QuantAttentionMatmul attention(String path, NDManager manager) {
            return attention(path, manager, ScalePlacement.AFTER_QK);
        }

        @Override
        public QuantAttentionMatmul attention(String path, NDManager manager, ScalePlacement placement) {
            placements.put(path, placement);
            return fp.attention(path, manager, placement);
        }
    }

    @Test
    void attentionBlockModelLayersSplitsAndPlacements() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> sd = Checkpoints.read(fixture("tiny_class.ckpt"), m);
            Recording rec = new Recording();
            try (LdmUNet unet = LdmUNet.load(LdmUNetConfig.load(fixture("tiny_class.yaml")), sd, rec, m, "tiny_class")) {
                Map<String, QuantLayer> layers = unet.layers();
                // every conv/linear weight of the state dict is one layer under the same path (label_emb is a table)
                long expected = sd.entrySet().stream().filter(e -> e.getKey().endsWith(".weight")
                        && e.getValue().getShape().dimension() != 1 && !e.getKey().equals("label_emb.weight")).count();
                assertEquals(expected, layers.size());
                for (Map.Entry<String, QuantLayer> e : layers.entrySet()) {
                    assertEquals(e.getKey(), e.getValue().name());
                    assertEquals(sd.get(e.getKey() + ".weight").toType(DataType.FLOAT32, false), e.getValue().weight(),
                            e.getKey());
                }
                assertEquals(List.of("time_embed.0", "time_embed.2", "input_blocks.0.0"),
                        List.copyOf(layers.keySet()).subList(0, 3));
                assertEquals("out.2", List.copyOf(layers.keySet()).get(layers.size() - 1));
                // Q-Diffusion's split shortcut: every decoder ResBlock's skip connection, at h's channel count
                Map<String, Integer> split = new LinkedHashMap<>();
                rec.splits.forEach((k, v) -> {
                    if (v != 0) {
                        split.put(k, v);
                    }
                });
                assertEquals(Map.of("output_blocks.0.0.skip_connection", 32, "output_blocks.1.0.skip_connection", 32,
                        "output_blocks.2.0.skip_connection", 32, "output_blocks.3.0.skip_connection", 32), split);
                // AttentionBlocks: 1-D convs, heads from num_head_channels 16, scale split before the matmul
                assertEquals(List.of("input_blocks.3.1.attention", "middle_block.1.attention",
                        "output_blocks.0.1.attention", "output_blocks.1.1.attention"), List.copyOf(unet.attentions().keySet()));
                assertTrue(rec.placements.values().stream().allMatch(p -> p == ScalePlacement.SPLIT_BEFORE_QUANT));
                assertEquals(3, layers.get("middle_block.1.qkv").weight().getShape().dimension());
                assertTrue(unet.attentionBlocks().stream().allMatch(a -> a.heads() == 2
                        && a.qkvOrder() == LdmAttentionBlock.QkvOrder.LEGACY));
                // up/down ResBlocks where resblock_updown replaces Downsample/Upsample
                assertEquals(LdmResBlock.Resample.DOWN, block(unet, "input_blocks.2.0").resampling());
                assertEquals(LdmResBlock.Resample.UP, block(unet, "output_blocks.1.2").resampling());
                assertEquals(4, PathGlob.select(layers, List.of("output_blocks.*.0.skip_connection")).size());
                assertTrue(unet.transformerBlocks().isEmpty());
            }
        }
    }

    @Test
    void transformerModelLayersAndPlacements() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> sd = Checkpoints.read(fixture("tiny_sd.ckpt"), m);
            Recording rec = new Recording();
            try (LdmUNet unet = LdmUNet.load(LdmUNetConfig.load(fixture("tiny_sd.yaml")), sd, rec, m, "tiny_sd")) {
                // the prefixed UNet keys were taken, the first stage's, the text encoder's and the schedule's ignored
                assertTrue(unet.layers().containsKey("input_blocks.1.1.transformer_blocks.1.attn2.to_k"));
                assertEquals(7, unet.spatialTransformers().size());
                assertEquals(14, unet.transformerBlocks().size()); // depth 2
                assertEquals(28, unet.attentions().size());
                assertTrue(rec.placements.values().stream().allMatch(p -> p == ScalePlacement.AFTER_QK));
                assertTrue(unet.attentions().containsKey("middle_block.1.transformer_blocks.0.attn1"));
                BasicTransformerBlock b = unet.transformerBlocks().get(0);
                assertEquals(new Shape(32, 24), b.attn2().toK().weight().getShape()); // context_dim 24 -> 2 heads x 16
                assertEquals(new Shape(32, 32), b.attn1().toK().weight().getShape());
                assertNull(b.attn1().toQ().bias());
                assertEquals(new Shape(256, 32), b.ff().proj().weight().getShape()); // GEGLU: 2 x 4 x 32
                assertEquals(14, PathGlob.select(unet.layers(), List.of("**.attn2.to_v")).size());
                // conv resampling of this config: Downsample op and Upsample conv
                assertTrue(unet.layers().containsKey("input_blocks.2.0.op") && unet.layers().containsKey("output_blocks.1.2.conv"));
                assertTrue(unet.resBlocks().stream().noneMatch(LdmResBlock::useScaleShiftNorm));
            }
        }
    }

    @Test
    void foldedSmoothingLeavesTheFullPrecisionOutputUnchanged() throws Exception {
        // QNCD's set_conv_weight + h / scale_mean around out_layers.3, in both ResBlock variants
        for (String name : new String[] {"tiny_class", "tiny_sd"}) {
            try (NDManager m = NDManager.newBaseManager()) {
                LdmUNetConfig cfg = LdmUNetConfig.load(fixture(name + ".yaml"));
                try (LdmUNet unet = LdmUNet.load(cfg, Checkpoints.read(fixture(name + ".ckpt"), m),
                        LayerFactory.fullPrecision(), m, name)) {
                    Map<String, NDArray> io = Npz.read(fixture(name + "_forward.npz"), m);
                    NDArray before = unet.forward(io.get("x"), io.get("t"), io.get("context"), io.get("y"));
                    LdmResBlock first = unet.resBlocks().get(0);
                    assertTrue(assertThrows(QncdException.class, () -> first.foldSmoothing(m.ones(new Shape(3))))
                            .getMessage().contains("has 3 values, the block has 32 channels"));
                    assertTrue(assertThrows(QncdException.class, () -> first.foldSmoothing(m.zeros(new Shape(32))))
                            .getMessage().contains("finite and non-zero"));
                    for (LdmResBlock b : unet.resBlocks()) {
                        NDArray e = b.embeddingProjection(unet.timeEmbeddingActivation(io.get("t"), io.get("y")));
                        assertEquals(new Shape(2, (b.useScaleShiftNorm() ? 2L : 1L) * b.outChannels()), e.getShape());
                        b.foldSmoothing(m.randomUniform(0.5f, 4f, new Shape(b.outChannels())));
                    }
                    NDArray after = unet.forward(io.get("x"), io.get("t"), io.get("context"), io.get("y"));
                    float scale = before.abs().max().getFloat();
                    float err = after.sub(before).abs().max().getFloat();
                    // float32 rounding of w·S and h/S only: 1e-5 of the output scale
                    assertTrue(err <= 1e-5f * scale, name + ": smoothing changed eps by " + err);
                    assertTrue(assertThrows(QncdException.class, () -> first.setSmoothing(m.ones(new Shape(32))))
                            .getMessage().contains("already has a smoothing factor"));
                }
            }
        }
    }

    @Test
    void aFactoryWithoutConv1dOrSplitAttentionRefusesLoudly() throws Exception {
        LayerFactory fp = LayerFactory.fullPrecision();
        LayerFactory legacyOnly = new LayerFactory() {
            @Override
            public QuantLayer conv2d(String path, NDArray w, NDArray b, int stride, int padding, int split) {
                return fp.conv2d(path, w, b, stride, padding, split);
            }

            @Override
            public QuantLayer linear(String path, NDArray w, NDArray b) {
                return fp.linear(path, w, b);
            }

            @Override
            public QuantAttentionMatmul attention(String path, NDManager manager) {
                return fp.attention(path, manager);
            }
        };
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> sd = Checkpoints.read(fixture("tiny_class.ckpt"), m);
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> LdmUNet.load(LdmUNetConfig.load(fixture("tiny_class.yaml")), sd, legacyOnly, m, "x"));
            assertTrue(e.getMessage().contains("input_blocks.3.1.qkv") && e.getMessage().contains("conv1d"), e.getMessage());
            assertTrue(assertThrows(UnsupportedOperationException.class,
                    () -> legacyOnly.attention("a", m, ScalePlacement.SPLIT_BEFORE_QUANT)).getMessage()
                    .contains("SPLIT_BEFORE_QUANT"));
            legacyOnly.attention("b", m, ScalePlacement.AFTER_QK).close();
            // a model with transformers only needs what every factory has
            try (LdmUNet unet = LdmUNet.load(LdmUNetConfig.load(fixture("tiny_sd.yaml")),
                    Checkpoints.read(fixture("tiny_sd.ckpt"), m), legacyOnly, m, "tiny_sd")) {
                assertEquals(28, unet.attentions().size());
            }
        }
    }

    private static LdmResBlock block(LdmUNet unet, String path) {
        return unet.resBlocks().stream().filter(b -> b.path().equals(path)).findFirst().orElseThrow();
    }
}
