package dev.qncd.models.ddim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.PathGlob;
import dev.qncd.core.quant.QuantAttentionMatmul;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The UNet's layers are reachable by their original key paths and selectable by glob rules. */
class DdimUNetLayersTest {
    @Test
    void everyConvAndLinearIsReachableByItsKeyPath() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            DdimConfig cfg = DdimConfig.load(DdimUNetParityTest.fixture("tiny.yml"));
            Map<String, NDArray> sd = Checkpoints.read(DdimUNetParityTest.fixture("tiny.ckpt"), m);
            Map<String, Integer> splits = new LinkedHashMap<>();
            LayerFactory fp = LayerFactory.fullPrecision();
            LayerFactory recording = new LayerFactory() {
                @Override
                public QuantLayer conv2d(String path, NDArray w, NDArray b, int stride, int padding, int split) {
                    splits.put(path, split);
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
            try (DdimUNet unet = DdimUNet.load(cfg, sd, recording, m, "tiny.ckpt")) {
                Map<String, QuantLayer> layers = unet.layers();
                // Every state-dict weight of a conv/linear (4-D or 2-D) is one layer, under the same path.
                long expected = sd.entrySet().stream()
                        .filter(e -> e.getKey().endsWith(".weight") && e.getValue().getShape().dimension() != 1)
                        .count();
                assertEquals(expected, layers.size());
                for (Map.Entry<String, QuantLayer> e : layers.entrySet()) {
                    assertEquals(e.getKey(), e.getValue().name());
                    NDArray w = sd.get(e.getKey() + ".weight").toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                    assertEquals(w, e.getValue().weight(), e.getKey());
                }
                assertEquals(List.of("temb.dense.0", "temb.dense.1", "conv_in"), List.copyOf(layers.keySet()).subList(0, 3));
                assertEquals("conv_out", List.copyOf(layers.keySet()).get(layers.size() - 1));
                // Decoder blocks see concat(h, skip): Q-Diffusion splits their nin_shortcut at h's channel
                // count, and nothing else (conv1 sees swish(GN1(concat))).
                Map<String, Integer> split = new LinkedHashMap<>();
                splits.forEach((k, v) -> {
                    if (v != 0) {
                        split.put(k, v);
                    }
                });
                assertEquals(Map.of("up.1.block.0.nin_shortcut", 64, "up.1.block.1.nin_shortcut", 64,
                        "up.0.block.0.nin_shortcut", 64, "up.0.block.1.nin_shortcut", 32), split);
                assertEquals(List.of("up.1.block.0.conv1", "up.1.block.1.conv1", "up.0.block.0.conv1", "up.0.block.1.conv1"),
                        List.copyOf(PathGlob.select(layers, List.of("up.*.block.*.conv1")).keySet()));
                assertEquals(List.of("down.1.attn.0", "mid.attn_1", "up.1.attn.0", "up.1.attn.1"),
                        List.copyOf(unet.attentions().keySet()));
                assertTrue(layers.containsKey("up.1.upsample.conv") && layers.containsKey("down.0.downsample.conv"));
                assertEquals(4, PathGlob.select(layers, List.of("mid.attn_1.*")).size());
            }
        }
    }
}
