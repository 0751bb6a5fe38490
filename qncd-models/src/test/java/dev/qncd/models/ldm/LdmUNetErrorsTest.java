package dev.qncd.models.ldm;

import static dev.qncd.models.ldm.LdmUNetParityTest.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.nn.LayerFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Wrong checkpoints and wrong inputs give one clear error; forward leaves no arrays behind. */
class LdmUNetErrorsTest {
    @Test
    void wrongCheckpointListsEveryProblem() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LdmUNetConfig cfg = LdmUNetConfig.load(fixture("tiny_sd.yaml"));
            Map<String, NDArray> sd = new LinkedHashMap<>(Checkpoints.read(fixture("tiny_sd.ckpt"), m));
            String p = LdmUNet.CHECKPOINT_PREFIX;
            sd.remove(p + "middle_block.1.transformer_blocks.0.attn2.to_k.weight");
            sd.put(p + "out.2.weight", m.zeros(new Shape(4, 64, 3, 3)));
            sd.put(p + "label_emb.weight", m.zeros(new Shape(10, 128)));
            sd.put("first_stage_model.encoder.conv_in.weight", m.zeros(new Shape(1))); // not the UNet's: ignored
            QncdException e = assertThrows(QncdException.class,
                    () -> LdmUNet.load(cfg, sd, LayerFactory.fullPrecision(), m, "tiny_sd.ckpt"));
            String msg = e.getMessage();
            assertTrue(msg.startsWith("tiny_sd.ckpt does not fit the LDM UNet (model_channels 32"), msg);
            assertTrue(msg.contains("1 missing keys") && msg.contains("middle_block.1.transformer_blocks.0.attn2.to_k.weight [32, 24]"), msg);
            assertTrue(msg.contains("out.2.weight: shape [4, 64, 3, 3] vs expected [4, 32, 3, 3]"), msg);
            assertTrue(msg.contains("1 unexpected keys") && msg.contains("label_emb.weight"), msg);
            assertTrue(!msg.contains("first_stage_model"), msg);
        }
    }

    @Test
    void wrongInputsNameTheExpectedShape() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            try (LdmUNet cls = load(m, "tiny_class"); LdmUNet sdModel = load(m, "tiny_sd")) {
                Map<String, NDArray> io = Npz.read(fixture("tiny_class_forward.npz"), m);
                NDArray x = io.get("x");
                NDArray t = io.get("t");
                NDArray y = io.get("y");
                assertTrue(message(() -> cls.forward(x, t)).contains("class-conditional (num_classes 5): pass class labels y"));
                assertTrue(message(() -> cls.forward(x, t, null, m.create(new long[] {0, 5})))
                        .contains("class label 5 is out of range: the model has 5 classes (0..4)"));
                assertTrue(message(() -> cls.forward(x, t, null, m.create(new float[] {0, 1})))
                        .contains("integer class label"));
                assertTrue(message(() -> cls.forward(x, t, m.zeros(new Shape(2, 1, 24)), y)).contains("pass no context"));
                assertTrue(message(() -> cls.forward(m.zeros(new Shape(2, 3, 7, 8)), t, null, y))
                        .contains("(N, 3, H, W) with H and W divisible by 2"));
                assertTrue(message(() -> cls.forward(x, m.zeros(new Shape(3)), null, y)).contains("one timestep per sample"));
                NDArray x4 = m.zeros(new Shape(2, 4, 8, 8));
                assertTrue(message(() -> sdModel.forward(x4, t)).contains("pass context of shape (2, L, 24)"));
                assertTrue(message(() -> sdModel.forward(x4, t, m.zeros(new Shape(2, 5, 16)), null))
                        .contains("context must have shape (2, L, 24), got (2, 5, 16)"));
                assertTrue(message(() -> sdModel.forward(x4, t, m.zeros(new Shape(2, 5, 24)), y))
                        .contains("not class-conditional"));
                // other sizes than the training size work, as in the reference (image_size is not used)
                assertEquals(new Shape(1, 4, 16, 4), sdModel.forward(m.randomNormal(new Shape(1, 4, 16, 4)),
                        m.create(new long[] {10}), m.randomNormal(new Shape(1, 3, 24)), null).getShape());
            }
        }
    }

    @Test
    void repeatedForwardDoesNotGrowAnyManager() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            try (LdmUNet unet = load(m, "tiny_class")) {
                Map<String, NDArray> io = Npz.read(fixture("tiny_class_forward.npz"), m);
                NDArray y32 = io.get("y").toType(DataType.INT32, false);
                try (NDManager step = m.newSubManager()) {
                    unet.forward(io.get("x"), io.get("t"), null, io.get("y"));
                }
                int model = unet.manager().getManagedArrays().size();
                int all = m.getManagedArrays().size();
                for (int i = 0; i < 3; i++) {
                    try (NDManager step = m.newSubManager()) {
                        NDArray x = io.get("x").duplicate();
                        x.attach(step);
                        unet.forward(x, io.get("t"), null, y32);
                    }
                }
                assertEquals(model, unet.manager().getManagedArrays().size(), "arrays left in the model's manager");
                assertEquals(all, m.getManagedArrays().size(), "arrays left anywhere");
            }
        }
    }

    private static LdmUNet load(NDManager m, String name) throws Exception {
        return LdmUNet.load(LdmUNetConfig.load(fixture(name + ".yaml")), Checkpoints.read(fixture(name + ".ckpt"), m),
                LayerFactory.fullPrecision(), m, name);
    }

    private static String message(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(QncdException.class, call).getMessage();
    }
}
