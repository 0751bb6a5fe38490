package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import dev.qncd.core.TestFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Safetensors reading against fixtures written by an independent Python writer
 * (scripts/make_safetensors_fixtures.py), and write/read round trips. All comparisons are exact:
 * every value in the fixtures is exactly representable in its type.
 */
class SafetensorsTest {
    private NDManager manager;

    @TempDir Path tmp;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    static Path fixture(String name) {
        return TestFixtures.path("safetensors/" + name);
    }

    /** value[i] = i * 0.5 - 3, as the fixture script writes it. */
    private static float[] base(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f - 3f;
        }
        return v;
    }

    @Test
    void readsEveryDtypeWrittenByPython() throws IOException {
        Map<String, NDArray> t = Safetensors.read(fixture("all_dtypes.safetensors"), manager);
        assertEquals(8, t.size());
        assertEquals(DataType.FLOAT32, t.get("z.f32").getDataType());
        assertEquals(new Shape(2, 3, 4), t.get("z.f32").getShape());
        assertArrayEquals(base(24), t.get("z.f32").toFloatArray(), 0f);
        assertEquals(DataType.FLOAT16, t.get("a.f16").getDataType());
        assertArrayEquals(base(24), t.get("a.f16").toType(DataType.FLOAT32, false).toFloatArray(), 0f);
        assertEquals(DataType.FLOAT32, t.get("m.bf16").getDataType(), "bfloat16 is widened to float32");
        assertArrayEquals(base(24), t.get("m.bf16").toFloatArray(), 0f);
        double[] f64 = t.get("b.f64").toDoubleArray();
        for (int i = 0; i < 24; i++) {
            assertEquals(i * 0.5 - 3.0, f64[i], 0.0);
        }
        long[] i64 = t.get("c.i64").toLongArray();
        int[] i32 = t.get("d.i32").toIntArray();
        byte[] u8 = t.get("e.u8").toByteArray();
        for (int i = 0; i < 24; i++) {
            assertEquals(i * 1000003L - 7, i64[i]);
            assertEquals(i * 7 - 50, i32[i]);
            assertEquals(i * 11 % 256, u8[i] & 0xff);
        }
        assertEquals(new Shape(), t.get("f.scalar").getShape());
        assertEquals(2.5f, t.get("f.scalar").getFloat(), 0f);
        assertEquals("qncd fixture", Safetensors.readMetadata(fixture("all_dtypes.safetensors")).get("note"));
    }

    @Test
    void roundTripIsBitExactAndKeepsOrderAndMetadata() throws IOException {
        Map<String, NDArray> src = Safetensors.read(fixture("all_dtypes.safetensors"), manager);
        Path out = tmp.resolve("rt.safetensors");
        Safetensors.write(out, src, Map.of("config", "{\"bits\":4}"));
        Map<String, NDArray> back = Safetensors.read(out, manager);
        assertEquals(src.keySet().stream().sorted().toList(), back.keySet().stream().sorted().toList());
        for (String k : src.keySet()) {
            assertEquals(src.get(k).getDataType(), back.get(k).getDataType(), k);
            assertEquals(src.get(k).getShape(), back.get(k).getShape(), k);
            assertArrayEquals(src.get(k).toByteArray(), back.get(k).toByteArray(), k);
        }
        assertEquals("{\"bits\":4}", Safetensors.readMetadata(out).get("config"));
        assertEquals(0, (Files.size(out) - Safetensors.readHeader(out).tensors().stream()
                .mapToLong(Safetensors.TensorInfo::byteSize).sum()) % 8, "data section 8-byte aligned");
    }

    @Test
    void writesNonContiguousViewsAndEmptyTensors() throws IOException {
        NDArray a = manager.arange(12f).reshape(3, 4).transpose();
        NDArray empty = manager.zeros(new Shape(0, 5));
        Map<String, NDArray> m = new LinkedHashMap<>();
        m.put("t", a);
        m.put("empty", empty);
        Path out = tmp.resolve("v.safetensors");
        Safetensors.write(out, m, Map.of());
        Map<String, NDArray> back = Safetensors.read(out, manager);
        assertArrayEquals(a.toFloatArray(), back.get("t").toFloatArray(), 0f);
        assertEquals(new Shape(4, 3), back.get("t").getShape());
        assertEquals(new Shape(0, 5), back.get("empty").getShape());
    }

    @Test
    void readTensorsAreIndependentOfTheFile() throws IOException {
        Path out = tmp.resolve("w.safetensors");
        Safetensors.write(out, Map.of("x", manager.ones(new Shape(4))), Map.of());
        NDArray x = Safetensors.read(out, manager).get("x");
        Files.delete(out);
        x.addi(1f); // in place: would crash or fail if the tensor aliased a read-only file mapping
        assertArrayEquals(new float[] {2, 2, 2, 2}, x.toFloatArray(), 0f);
    }

    @Test
    void truncatedFileIsRejectedWithTheTensorName() {
        FormatException e = assertThrows(FormatException.class,
                () -> Safetensors.read(fixture("truncated.safetensors"), manager));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(e.getMessage().contains("tensor '"), e.getMessage());
    }

    @Test
    void corruptHeadersAreRejected() {
        FormatException json = assertThrows(FormatException.class,
                () -> Safetensors.read(fixture("bad_json.safetensors"), manager));
        assertTrue(json.getMessage().contains("invalid JSON"), json.getMessage());
        FormatException size = assertThrows(FormatException.class,
                () -> Safetensors.read(fixture("wrong_size.safetensors"), manager));
        assertTrue(size.getMessage().contains("needs 16 bytes"), size.getMessage());
    }

    @Test
    void notASafetensorsFile() throws IOException {
        Path empty = Files.createFile(tmp.resolve("empty.safetensors"));
        assertTrue(assertThrows(FormatException.class, () -> Safetensors.read(empty, manager))
                .getMessage().contains("shorter than the 8-byte header"));
        Path text = Files.writeString(tmp.resolve("text.safetensors"), "hello world, not tensors");
        assertTrue(assertThrows(FormatException.class, () -> Safetensors.read(text, manager))
                .getMessage().contains("header length"));
    }

    @Test
    void failedWriteLeavesNoFile() {
        Path out = tmp.resolve("bad.safetensors");
        NDArray x = manager.ones(new Shape(2));
        assertThrows(FormatException.class, () -> Safetensors.write(out, Map.of("__metadata__", x), Map.of()));
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(0, s.count(), "no temporary file left behind");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
