package dev.qncd.core.io;

import static dev.qncd.core.io.IoFixtures.assertSameValues;
import static dev.qncd.core.io.IoFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.FormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reading torch.save fixtures (scripts/make_io_fixtures.py, torch 1.13.1). Tolerance everywhere: exact
 * (bitwise) — the reader copies bytes and never computes; fp16/bf16 are compared after widening to
 * float32, which is exact.
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

    private void assertMatchesExpected(Map<String, NDArray> actual, String expectedNpz) {
        Map<String, NDArray> expected = Npz.read(fixture("torch/" + expectedNpz), manager);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()), "keys in file order");
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            assertSameValues(e.getValue(), actual.get(e.getKey()), e.getKey());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain_zip.pt", "plain_legacy.pt"})
    void readsPlainStateDictInBothFormats(String file) {
        Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture("torch/" + file), manager, null);
        assertMatchesExpected(sd, "plain.expected.npz");
        assertEquals(DataType.FLOAT32, sd.get("conv_in.weight").getDataType());
        assertEquals(DataType.INT64, sd.get("steps").getDataType());
        assertEquals(0, sd.get("norm.num_batches_tracked").getShape().dimension(), "0-d buffer stays 0-d");
        assertSame(manager, sd.get("fc.weight").getManager(), "arrays are attached to the caller's manager");
    }

    @ParameterizedTest
    @ValueSource(strings = {"dtypes_zip.pt", "dtypes_legacy.pt"})
    void keepsStoredElementTypes(String file) {
        Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture("torch/" + file), manager, null);
        assertMatchesExpected(sd, "dtypes.expected.npz");
        assertEquals(DataType.FLOAT16, sd.get("f16").getDataType());
        // DJL 0.36 aborts the JVM on BFLOAT16 arrays, so bf16 is widened to float32 (exact)
        assertEquals(DataType.FLOAT32, sd.get("bf16").getDataType());
        assertEquals(DataType.FLOAT64, sd.get("f64").getDataType());
        assertEquals(DataType.INT32, sd.get("i32").getDataType());
        assertEquals(DataType.INT32, sd.get("i16").getDataType(), "int16 widened: DJL aborts on INT16");
        assertEquals(DataType.INT8, sd.get("i8").getDataType());
        assertEquals(DataType.UINT8, sd.get("u8").getDataType());
        assertEquals(DataType.BOOLEAN, sd.get("bool").getDataType());
        assertEquals(0, sd.get("empty").size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"views_zip.pt", "views_legacy.pt"})
    void materialisesViewsAndSharedStorages(String file) {
        Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture("torch/" + file), manager, null);
        // transposed, sliced with an offset, stepped, expanded (stride 0), fp16 transposed, int64 strided
        assertMatchesExpected(sd, "views.expected.npz");
        assertSame(sd.get("base"), sd.get("same"), "one pickled tensor referenced twice is one array");
        assertNotSame(sd.get("base"), sd.get("alias"), "two tensors on one storage are two arrays");
        sd.get("alias").muli(0);
        assertEquals(4.75f, sd.get("base").getFloat(3, 5), 0f, "arrays never alias each other's memory");
    }

    @ParameterizedTest
    @ValueSource(strings = {"views_zip.pt", "views_legacy.pt"})
    void selectsOneTensorAndSkipsOtherStorages(String file) {
        // the legacy reader skips the storages before and after the selected one in the stream
        Map<String, NDArray> one = TorchCheckpointReader.readStateDict(fixture("torch/" + file), manager, "half_t");
        assertEquals(List.of("half_t"), List.copyOf(one.keySet()));
        NDArray expected = Npz.read(fixture("torch/views.expected.npz"), manager).get("half_t");
        assertSameValues(expected, one.get("half_t"), "half_t");
    }

    @Test
    void readsEachStorageOnce() throws Exception {
        try (TorchCheckpointSource src = TorchZipCheckpoint.open(fixture("torch/views_zip.pt"))) {
            int[] reads = new int[1];
            src.readStorages(new java.util.HashSet<>(src.storages.values()), (s, data) -> reads[0]++);
            assertEquals(4, src.storages.size(), "base+views, half, expanded source, int64 source");
            assertEquals(4, reads[0]);
            assertEquals(9, src.tensors.size(), "10 keys, 'same' is the memoised 'base'");
        }
    }

    @Test
    void detectsNestedStateDicts() {
        Map<String, NDArray> a = TorchCheckpointReader.readStateDict(fixture("torch/nested_state_dict.pt"), manager, null);
        assertMatchesExpected(a, "plain.expected.npz");
        Map<String, NDArray> b = TorchCheckpointReader.readStateDict(fixture("torch/nested_model.pt"), manager, null);
        assertMatchesExpected(b, "plain.expected.npz");
        Map<String, NDArray> c = TorchCheckpointReader.readStateDict(fixture("torch/nested_state_dict.pt"), manager,
                "state_dict");
        assertMatchesExpected(c, "plain.expected.npz");
    }

    @Test
    void flattensDdimListCheckpoint() {
        Path file = fixture("torch/ddim_list.pth");
        Map<String, NDArray> all = TorchCheckpointReader.readStateDict(file, manager, null);
        assertMatchesExpected(all, "ddim_list.expected.npz");
        assertTrue(all.containsKey("0.weight") && all.containsKey("4.weight") && all.containsKey("1.state.0.exp_avg"),
                all.keySet().toString());
        Map<String, NDArray> ema = TorchCheckpointReader.readStateDict(file, manager, "4");
        assertEquals(List.of("weight", "bias"), List.copyOf(ema.keySet()));
        assertSameValues(manager.ones(new ai.djl.ndarray.types.Shape(2, 3)), ema.get("weight"), "ema weight");
    }

    @Test
    void stripsDataParallelPrefix() {
        Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture("torch/module_prefixed.pt"), manager, null);
        assertMatchesExpected(sd, "plain.expected.npz");
    }

    @Test
    void readsParameters() {
        Map<String, NDArray> sd = TorchCheckpointReader.readStateDict(fixture("torch/parameters.pt"), manager, null);
        assertMatchesExpected(sd, "parameters.expected.npz");
    }

    @Test
    void readsWholeObjectTree() {
        Object tree = TorchCheckpointReader.readObject(fixture("torch/nested_state_dict.pt"), manager);
        Map<?, ?> m = assertInstanceOf(Map.class, tree);
        assertEquals(List.of("state_dict", "epoch", "hparams"), List.copyOf(m.keySet()));
        assertEquals(3, ((Number) m.get("epoch")).intValue());
        Map<?, ?> h = assertInstanceOf(Map.class, m.get("hparams"));
        assertEquals(0.1, (Double) h.get("lr"), 0.0);
        assertEquals("ddim", h.get("name"));
        assertEquals(List.of(0.9, 0.999), h.get("betas"));
        assertEquals(Boolean.TRUE, h.get("flag"));
        assertTrue(h.containsKey("none"));
        assertNull(h.get("none"));
        Map<?, ?> sd = assertInstanceOf(Map.class, m.get("state_dict"));
        assertInstanceOf(NDArray.class, sd.get("conv_in.weight"));

        Object list = TorchCheckpointReader.readObject(fixture("torch/ddim_list.pth"), manager);
        List<?> l = assertInstanceOf(List.class, list);
        assertEquals(5, l.size());
        assertEquals(1234, ((Number) l.get(3)).intValue());
    }

    @Test
    void missingKeyListsTopLevelKeys() {
        Path file = fixture("torch/nested_state_dict.pt");
        FormatException e = assertThrows(FormatException.class,
                () -> TorchCheckpointReader.readStateDict(file, manager, "model_ema"));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("[state_dict, epoch, hparams]"), e.getMessage());
        FormatException l = assertThrows(FormatException.class,
                () -> TorchCheckpointReader.readStateDict(fixture("torch/ddim_list.pth"), manager, "5"));
        assertTrue(l.getMessage().contains("0..4 (a list)"), l.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"malicious_system_zip.pt", "malicious_system_legacy.pt"})
    void refusesOsSystem(String name) throws Exception {
        Path marker = Path.of("/tmp/qncd-io-pwned-marker");
        Files.deleteIfExists(marker);
        Path file = fixture("torch/" + name);
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class,
                () -> TorchCheckpointReader.readStateDict(file, manager, null));
        assertEquals("posix.system", e.global(), "os.system pickles as posix.system on Linux");
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("'posix.system'")
                && e.getMessage().contains("torch.save(model.state_dict(), path)"), e.getMessage());
        assertThrows(UnsafeCheckpointException.class, () -> TorchCheckpointReader.readObject(file, manager));
        assertFalse(Files.exists(marker), "the payload must never run");
    }

    @Test
    void refusesEvalThroughStackGlobal() {
        Path marker = Path.of("/tmp/qncd-io-pwned-marker");
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class,
                () -> TorchCheckpointReader.readStateDict(fixture("torch/malicious_eval_proto4.pt"), manager, null));
        assertEquals("builtins.eval", e.global());
        assertFalse(Files.exists(marker), "the payload must never run");
    }

    @Test
    void refusesArgparseNamespace() {
        UnsafeCheckpointException e = assertThrows(UnsafeCheckpointException.class,
                () -> TorchCheckpointReader.readStateDict(fixture("torch/namespace.pt"), manager, null));
        assertEquals("argparse.Namespace", e.global());
    }

    @Test
    void reportsStorageShorterThanTensor() {
        Path file = fixture("torch/short_storage.pt");
        FormatException e = assertThrows(FormatException.class,
                () -> TorchCheckpointReader.readStateDict(file, manager, null));
        assertEquals(file + ": truncated: storage 0 has 40 bytes, tensor 'x' needs 72 (offset 2, shape [4, 4], F32); "
                + "the file is damaged: re-download it or re-save it with torch.save", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"truncated_zip.pt", "truncated_legacy.pt", "truncated_legacy_pickle.pt",
        "not_a_checkpoint.pt", "empty.pt"})
    void reportsDamagedFiles(String name) {
        Path file = fixture("torch/" + name);
        FormatException e = assertThrows(FormatException.class,
                () -> TorchCheckpointReader.readStateDict(file, manager, null));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().matches("(?s).*(truncated|not a PyTorch checkpoint|empty).*"), e.getMessage());
    }
}
