package dev.qncd.core.io;

import static dev.qncd.core.io.IoFixtures.assertSameValues;
import static dev.qncd.core.io.IoFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.FormatException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reading part of a checkpoint ({@link ReadSelection}): only the named tensors, optionally converted.
 * Values are compared bitwise with the fixtures' expectations (the reader copies bytes); conversions
 * are compared bitwise with DJL's own cast of the expected array (the reader uses the same cast).
 */
class ReadSelectionTest {
    @TempDir Path tmp;
    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"views_zip.pt", "views_legacy.pt"})
    void readsOnlyTheTensorsUnderThePrefixes(String file) throws IOException {
        Map<String, NDArray> sd = Checkpoints.read(fixture("torch/" + file), manager, null,
                ReadSelection.under("s", "row"));
        assertEquals(List.of("same", "row", "sliced", "stepped"), List.copyOf(sd.keySet()), "file order kept");
        Map<String, NDArray> expected = Npz.read(fixture("torch/views.expected.npz"), manager);
        for (Map.Entry<String, NDArray> e : sd.entrySet()) {
            assertSameValues(expected.get(e.getKey()), e.getValue(), e.getKey());
            assertSame(manager, e.getValue().getManager());
        }
    }

    @Test
    void neverReadsTheStoragesOfExcludedTensors() throws IOException {
        // Drop one storage record from a zip checkpoint: reading everything fails, but each tensor whose
        // storage is still there reads, so excluded storages are not touched.
        Path src = fixture("torch/plain_zip.pt");
        Path damaged = tmp.resolve("plain_zip.pt");
        String dropped = "plain_zip/data/2";
        try (ZipFile in = new ZipFile(src.toFile()); OutputStream os = Files.newOutputStream(damaged);
                ZipOutputStream out = new ZipOutputStream(os)) {
            for (Enumeration<? extends ZipEntry> en = in.entries(); en.hasMoreElements();) {
                ZipEntry e = en.nextElement();
                if (e.getName().equals(dropped)) {
                    continue;
                }
                out.putNextEntry(new ZipEntry(e.getName()));
                try (InputStream is = in.getInputStream(e)) {
                    is.transferTo(out);
                }
                out.closeEntry();
            }
        }
        assertThrows(FormatException.class, () -> Checkpoints.read(damaged, manager));
        Map<String, NDArray> expected = Npz.read(fixture("torch/plain.expected.npz"), manager);
        List<String> readable = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        for (String name : expected.keySet()) {
            try {
                Map<String, NDArray> one = Checkpoints.read(damaged, manager, null, ReadSelection.under(name));
                assertSameValues(expected.get(name), one.get(name), name);
                readable.add(name);
            } catch (FormatException e) {
                assertTrue(e.getMessage().contains("missing"), e.getMessage());
                unreadable.add(name);
            }
        }
        assertEquals(1, unreadable.size(), "exactly the tensor of the dropped storage fails: " + unreadable);
        assertEquals(expected.size() - 1, readable.size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"dtypes_zip.pt", "dtypes_legacy.pt"})
    void convertsFloatingTensorsAsTheyAreRead(String file) throws IOException {
        Map<String, NDArray> sd = Checkpoints.read(fixture("torch/" + file), manager, null,
                ReadSelection.ALL.withFloatType(DataType.FLOAT16));
        Map<String, NDArray> expected = Npz.read(fixture("torch/dtypes.expected.npz"), manager);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(sd.keySet()));
        for (String k : List.of("f32", "f16", "bf16", "f64", "scalar")) {
            assertEquals(DataType.FLOAT16, sd.get(k).getDataType(), k);
            NDArray want = expected.get(k).toType(DataType.FLOAT16, false);
            assertTrue(want.contentEquals(sd.get(k)), k + ": same values as a cast of the stored tensor");
        }
        assertEquals(DataType.INT64, sd.get("i64").getDataType(), "integers keep their type");
        assertEquals(DataType.BOOLEAN, sd.get("bool").getDataType());
        assertSameValues(expected.get("i64"), sd.get("i64"), "i64");
        Map<String, NDArray> f32 = Checkpoints.read(fixture("torch/" + file), manager, null,
                ReadSelection.under("f").withFloatType(DataType.FLOAT32));
        assertEquals(List.of("f32", "f16", "f64"), List.copyOf(f32.keySet()));
        for (NDArray a : f32.values()) {
            assertEquals(DataType.FLOAT32, a.getDataType());
        }
        assertSameValues(expected.get("f32"), f32.get("f32"), "f32 unchanged");
    }

    @Test
    void sharedStoragesConvertOnceAndKeepAliases() throws IOException {
        Map<String, NDArray> sd = Checkpoints.read(fixture("torch/views_zip.pt"), manager, null,
                ReadSelection.under("base", "same", "alias", "transposed").withFloatType(DataType.FLOAT16));
        assertSame(sd.get("base"), sd.get("same"), "the same tensor twice stays one array");
        Map<String, NDArray> expected = Npz.read(fixture("torch/views.expected.npz"), manager);
        for (String k : sd.keySet()) {
            assertTrue(expected.get(k).toType(DataType.FLOAT16, false).contentEquals(sd.get(k)), k);
        }
    }

    @Test
    void aStateDictKeyAndAPrefixCombine() throws IOException {
        Map<String, NDArray> sd = Checkpoints.read(fixture("torch/nested_state_dict.pt"), manager, "state_dict",
                ReadSelection.under("fc."));
        assertEquals(List.of("fc.weight", "fc.bias"), List.copyOf(sd.keySet()));
        Map<String, NDArray> stripped = Checkpoints.stripPrefix(sd, "fc.");
        assertEquals(List.of("weight", "bias"), List.copyOf(stripped.keySet()));
        assertSame(sd.get("fc.weight"), stripped.get("weight"));
    }

    @Test
    void aSelectionThatMatchesNothingNamesWhatTheFileHas() {
        FormatException e = assertThrows(FormatException.class, () -> Checkpoints.read(
                fixture("torch/plain_zip.pt"), manager, null, ReadSelection.under("first_stage_model.")));
        assertTrue(e.getMessage().contains("[first_stage_model.]") && e.getMessage().contains("conv_in.")
                && e.getMessage().contains("steps"), e.getMessage());
    }

    @Test
    void safetensorsAndNpzHonourTheSelection() throws IOException {
        Map<String, NDArray> all = Checkpoints.read(fixture("torch/plain_zip.pt"), manager);
        Path st = tmp.resolve("plain.safetensors");
        Checkpoints.write(st, all, Map.of());
        Path npz = tmp.resolve("plain.npz");
        Checkpoints.write(npz, all, Map.of());
        for (Path f : List.of(st, npz)) {
            Map<String, NDArray> sd = Checkpoints.read(f, manager, null,
                    ReadSelection.under("conv_in.", "steps").withFloatType(DataType.FLOAT16));
            assertEquals(List.of("conv_in.weight", "conv_in.bias", "steps"), List.copyOf(sd.keySet()), f.toString());
            assertTrue(all.get("conv_in.weight").toType(DataType.FLOAT16, false).contentEquals(sd.get("conv_in.weight")));
            assertEquals(DataType.INT64, sd.get("steps").getDataType());
            assertThrows(FormatException.class,
                    () -> Checkpoints.read(f, manager, null, ReadSelection.under("decoder.")));
        }
    }

    @Test
    void onlyFloatTypesAreAccepted() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ReadSelection.ALL.withFloatType(DataType.INT32));
        assertTrue(e.getMessage().contains("float16, float32 or float64"), e.getMessage());
        assertTrue(ReadSelection.ALL.isAll());
        assertTrue(ReadSelection.under().includes("anything"));
        Map<String, NDArray> m = new LinkedHashMap<>();
        assertTrue(Checkpoints.stripPrefix(m, "x.").isEmpty());
    }
}
