package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.FormatException;
import dev.qncd.core.TestFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * torch.save files written by Debian's PyTorch 1.13 (scripts/make_torch_fixtures.py), compared bit for
 * bit with numpy copies of the same tensors (fp16/bf16 via float32, an exact conversion).
 */
class TorchCheckpointReaderTest {
    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    static Path fixture(String name) {
        return TestFixtures.path("torch/" + name);
    }

    private void assertSameTensors(Map<String, NDArray> expected, Map<String, NDArray> actual) {
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()), "keys in file order");
        for (String k : expected.keySet()) {
            NDArray e = expected.get(k);
            NDArray a = actual.get(k);
            assertEquals(e.getShape(), a.getShape(), k);
            NDArray a32 = a.getDataType() == DataType.FLOAT16 ? a.toType(DataType.FLOAT32, false) : a;
            assertEquals(e.getDataType(), a32.getDataType(), k);
            assertTrue(e.contentEquals(a32), k + ": expected " + e + " got " + a32);
        }
    }

    @Test
    void zipAndLegacyGiveTheSameTensorsAsPyTorch() throws IOException {
        Map<String, NDArray> expected = Npz.read(fixture("sd.expected.npz"), manager);
        for (String f : new String[] {"sd_zip.ckpt", "sd_legacy.ckpt"}) {
            Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture(f), manager, null);
            assertSameTensors(expected, sd);
            assertEquals(DataType.FLOAT16, sd.get("half").getDataType(), "float16 keeps its type");
            assertEquals(DataType.FLOAT32, sd.get("bf16").getDataType(), "bfloat16 is widened to float32");
            assertEquals(DataType.INT64, sd.get("bn.num_batches_tracked").getDataType());
            assertEquals(12345678901L, sd.get("bn.num_batches_tracked").getLong());
        }
    }

    @Test
    void sharedStoragesAndViewsAreIndependentTensors() throws IOException {
        Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture("sd_zip.ckpt"), manager, null);
        NDArray a = sd.get("shared.a");
        NDArray b = sd.get("shared.b");
        assertEquals(2.5f, b.getFloat(0, 0), 0f, "offset 10 into the shared storage (0.25 * 10)");
        a.set(new ai.djl.ndarray.index.NDIndex("0, 0"), 99f); // must not leak into the other view
        assertEquals(2.5f, b.getFloat(0, 0), 0f);
    }

    @Test
    void nestedCheckpointsAreFoundAutomaticallyOrByKey() throws IOException {
        Map<String, NDArray> small = Npz.read(fixture("small.expected.npz"), manager);
        assertSameTensors(small, TorchCheckpointReader.readStateDict(fixture("nested_state_dict.ckpt"), manager, null));
        assertSameTensors(small, TorchCheckpointReader.readStateDict(fixture("nested_state_dict.ckpt"), manager, "state_dict"));
        assertSameTensors(small, TorchCheckpointReader.readStateDict(fixture("nested_model_legacy.pth"), manager, null));
        assertSameTensors(small, TorchCheckpointReader.readStateDict(fixture("dataparallel.pth"), manager, null));
        Map<String, NDArray> ema = Npz.read(fixture("ema.expected.npz"), manager);
        assertSameTensors(ema, TorchCheckpointReader.readStateDict(fixture("ddim_list.pth"), manager, "4"));
        Map<String, NDArray> all = TorchCheckpointReader.readStateDict(fixture("ddim_list.pth"), manager, null);
        assertTrue(all.containsKey("0.conv.bias") && all.containsKey("4.fc.weight"), all.keySet().toString());
        FormatException e = assertThrows(FormatException.class,
                () -> TorchCheckpointReader.readStateDict(fixture("nested_state_dict.ckpt"), manager, "ema"));
        assertTrue(e.getMessage().contains("[state_dict, epoch, global_step, name]"), e.getMessage());
    }

    @Test
    void theWholeObjectTreeIsAvailable() throws IOException {
        Object root = TorchCheckpointReader.readObject(fixture("nested_state_dict.ckpt"), manager);
        Map<?, ?> m = assertInstanceOf(Map.class, root);
        assertEquals(3, ((Number) m.get("epoch")).intValue());
        assertEquals("run", m.get("name"));
        Map<?, ?> params = assertInstanceOf(Map.class, TorchCheckpointReader.readObject(fixture("parameters.pt"), manager));
        NDArray w = assertInstanceOf(NDArray.class, params.get("weight"));
        assertTrue(w.contentEquals(manager.arange(6f).reshape(2, 3)), "nn.Parameter via _rebuild_parameter");
    }

    @Test
    void codeRunningPicklesAreRefusedAndNothingRuns() throws IOException {
        Path marker = Path.of("/tmp/qncd-fixture-pwned");
        Files.deleteIfExists(marker);
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class,
                () -> TorchCheckpointReader.readStateDict(fixture("evil.ckpt"), manager, null));
        assertTrue(e.global().endsWith(".system"), e.global());
        assertTrue(e.getMessage().contains("could run code") && e.getMessage().contains("safetensors"), e.getMessage());
        assertFalse(Files.exists(marker), "the payload must never run");
        UnsafeCheckpointException ns = assertThrows(UnsafeCheckpointException.class,
                () -> TorchCheckpointReader.readStateDict(fixture("namespace.ckpt"), manager, null));
        assertEquals("argparse.Namespace", ns.global());
    }

    @Test
    void truncatedFilesAreRejected() {
        for (String f : new String[] {"truncated_zip.ckpt", "truncated_legacy.ckpt"}) {
            FormatException e = assertThrows(FormatException.class,
                    () -> TorchCheckpointReader.readStateDict(fixture(f), manager, null), f);
            assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("corrupt"), e.getMessage());
            assertTrue(e.getMessage().contains(f), "names the file: " + e.getMessage());
        }
    }

    @Test
    void checkpointsFacadeDetectsEveryFormat() throws IOException {
        assertEquals(CheckpointFormat.TORCH_ZIP, CheckpointFormat.detect(fixture("sd_zip.ckpt")));
        assertEquals(CheckpointFormat.TORCH_LEGACY, CheckpointFormat.detect(fixture("sd_legacy.ckpt")));
        assertEquals(CheckpointFormat.NPZ, CheckpointFormat.detect(fixture("sd.expected.npz")));
        // This header length (0x0280) begins with the bytes 80 02, like a protocol-2 pickle.
        assertEquals(CheckpointFormat.SAFETENSORS, CheckpointFormat.detect(SafetensorsTest.fixture("all_dtypes.safetensors")));
        Map<String, NDArray> viaFacade = Checkpoints.read(fixture("sd_legacy.ckpt"), manager);
        assertSameTensors(Npz.read(fixture("sd.expected.npz"), manager), viaFacade);
        assertThrows(FormatException.class, () -> Checkpoints.read(fixture("sd.expected.npz"), manager, "state_dict"));
    }
}
