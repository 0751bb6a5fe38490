package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import dev.qncd.core.TestFixtures;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * .npy/.npz against fixtures written by numpy (scripts/make_npy_fixtures.py) and write/read round
 * trips. Exact comparisons: every fixture value is representable in its type.
 */
class NpyNpzTest {
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
        return TestFixtures.path("npy/" + name);
    }

    private static double[] floats() {
        double[] v = new double[24];
        for (int i = 0; i < 24; i++) {
            v[i] = i * 0.5 - 3;
        }
        return v;
    }

    private static long[] ints() {
        long[] v = new long[24];
        for (int i = 0; i < 24; i++) {
            v[i] = i * 7L - 50;
        }
        return v;
    }

    private static double[] asDoubles(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    private static long[] asLongs(NDArray a) {
        return a.toType(DataType.INT64, false).toLongArray();
    }

    @Test
    void readsEveryNumpyDtype() throws IOException {
        Map<String, DataType> types = new LinkedHashMap<>();
        types.put("f4", DataType.FLOAT32);
        types.put("f8", DataType.FLOAT64);
        types.put("f2", DataType.FLOAT16);
        types.put("i8", DataType.INT64);
        types.put("i4", DataType.INT32);
        types.put("i2", DataType.INT32); // widened: DJL's PyTorch engine cannot hold int16
        types.put("i1", DataType.INT8);
        for (Map.Entry<String, DataType> e : types.entrySet()) {
            NDArray a = Npy.read(fixture(e.getKey() + ".npy"), manager);
            assertEquals(e.getValue(), a.getDataType(), e.getKey());
            if (e.getKey().startsWith("f")) {
                assertArrayEquals(floats(), asDoubles(a), 0.0, e.getKey());
            } else {
                assertArrayEquals(ints(), asLongs(a), e.getKey());
            }
        }
        assertEquals(new Shape(2, 3, 4), Npy.read(fixture("f4.npy"), manager).getShape());
        byte[] u1 = Npy.read(fixture("u1.npy"), manager).toByteArray();
        boolean[] b1 = Npy.read(fixture("b1.npy"), manager).toBooleanArray();
        for (int i = 0; i < 24; i++) {
            assertEquals(i * 11 % 256, u1[i] & 0xff);
            assertEquals(i % 3 == 0, b1[i]);
        }
    }

    @Test
    void fortranOrderScalarEmptyAndVersion2() throws IOException {
        NDArray f = Npy.read(fixture("f4_fortran.npy"), manager);
        assertEquals(new Shape(2, 3, 4), f.getShape());
        assertTrue(f.contentEquals(Npy.read(fixture("f4.npy"), manager)), "fortran order is transposed back");
        NDArray s = Npy.read(fixture("scalar.npy"), manager);
        assertEquals(new Shape(), s.getShape());
        assertEquals(2.5f, s.getFloat(), 0f);
        assertEquals(new Shape(0, 3), Npy.read(fixture("empty.npy"), manager).getShape());
        assertArrayEquals(ints(), Npy.read(fixture("v2.npy"), manager).toLongArray());
    }

    @Test
    void readsAdmBatchesAndCompressedStatistics() throws IOException {
        Map<String, NDArray> batch = Npz.read(fixture("batch.npz"), manager);
        assertEquals(List.of("arr_0"), List.copyOf(batch.keySet()));
        NDArray b = batch.get("arr_0");
        assertEquals(DataType.UINT8, b.getDataType());
        assertEquals(new Shape(4, 8, 8, 3), b.getShape());
        byte[] v = b.toByteArray();
        for (int i = 0; i < v.length; i++) {
            assertEquals(i * 11 % 256, v[i] & 0xff);
        }
        Map<String, NDArray> stats = Npz.read(fixture("stats_compressed.npz"), manager);
        assertArrayEquals(new double[] {0, 1 / 3.0, 2 / 3.0, 1, 4 / 3.0}, stats.get("mu").toDoubleArray(), 0.0);
        assertEquals(new Shape(5, 5), stats.get("sigma").getShape());
        assertEquals(2.25, stats.get("sigma").getDouble(1, 1), 0.0);
    }

    @Test
    void roundTripEveryWritableType() throws IOException {
        Map<String, NDArray> arrays = new LinkedHashMap<>();
        for (String k : new String[] {"f4", "f8", "f2", "i8", "i4", "i1", "u1", "b1", "scalar", "empty"}) {
            arrays.put(k, Npy.read(fixture(k + ".npy"), manager));
        }
        arrays.put("transposed", manager.arange(12f).reshape(3, 4).transpose());
        for (boolean compressed : new boolean[] {false, true}) {
            Path p = tmp.resolve("rt" + compressed + ".npz");
            Npz.write(p, arrays, compressed);
            Map<String, NDArray> back = Npz.read(p, manager);
            assertEquals(List.copyOf(arrays.keySet()), List.copyOf(back.keySet()));
            for (String k : arrays.keySet()) {
                assertEquals(arrays.get(k).getDataType(), back.get(k).getDataType(), k);
                assertEquals(arrays.get(k).getShape(), back.get(k).getShape(), k);
                assertTrue(arrays.get(k).contentEquals(back.get(k)), k);
            }
        }
        Path one = tmp.resolve("one.npy");
        Npy.write(one, arrays.get("f8"));
        assertTrue(arrays.get("f8").contentEquals(Npy.read(one, manager)));
    }

    @Test
    void badFilesAreRejectedWithTheReason() {
        assertTrue(assertThrows(FormatException.class, () -> Npy.read(fixture("truncated.npy"), manager))
                .getMessage().contains("truncated"));
        assertTrue(assertThrows(FormatException.class, () -> Npy.read(fixture("big_endian.npy"), manager))
                .getMessage().contains("big-endian"));
        assertTrue(assertThrows(FormatException.class, () -> Npy.read(fixture("object.npy"), manager))
                .getMessage().contains("Python objects"));
        FormatException z = assertThrows(FormatException.class, () -> Npz.read(fixture("truncated.npz"), manager));
        assertTrue(z.getMessage().contains("truncated") || z.getMessage().contains("corrupt"), z.getMessage());
        assertTrue(assertThrows(FormatException.class, () -> Npy.read(fixture("batch.npz"), manager))
                .getMessage().contains("not an .npy file"));
    }
}
