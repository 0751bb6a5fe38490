package dev.qncd.core.io;

import static dev.qncd.core.io.IoFixtures.bytes;
import static dev.qncd.core.io.IoFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * .npy/.npz against numpy-written fixtures (values from the formula in scripts/make_io_fixtures.py)
 * and round trips. Tolerance: exact everywhere — the formats copy bytes, and every formula value is
 * exactly representable in every dtype used.
 */
class NpyTest {

    @TempDir
    Path tmp;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** The fixture formula for element i of a numpy kind ('f', 'i', 'u', 'b'). */
    private static double formulaAt(char kind, int i) {
        return switch (kind) {
            case 'f' -> (i - 5) * 0.5;
            case 'b' -> i % 3 == 0 ? 1 : 0;
            case 'u' -> i * 7 % 256;
            default -> i - 5;
        };
    }

    private static double[] formula(char kind, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = formulaAt(kind, i);
        }
        return v;
    }

    private static double[] values(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    @ParameterizedTest
    @CsvSource({"f8,FLOAT64", "f4,FLOAT32", "f2,FLOAT16", "i8,INT64", "i4,INT32", "i2,INT32", "i1,INT8",
        "u1,UINT8", "b1,BOOLEAN"})
    void readsEveryDtype(String kind, DataType expected) {
        NDArray a = Npy.read(fixture("npy/dtype_" + kind + ".npy"), manager);
        assertEquals(new Shape(2, 3, 4), a.getShape());
        assertEquals(expected, a.getDataType(), "int16 is widened to INT32 (DJL cannot hold INT16)");
        assertArrayEquals(formula(kind.charAt(0), 24), values(a), 0.0);
    }

    @Test
    void readsFortranOrderAsCOrder() {
        NDArray a = Npy.read(fixture("npy/fortran_2d.npy"), manager);
        assertEquals(new Shape(3, 4), a.getShape());
        assertArrayEquals(formula('f', 12), values(a), 0.0);
        NDArray b = Npy.read(fixture("npy/fortran_3d.npy"), manager);
        assertEquals(new Shape(2, 3, 4), b.getShape());
        assertEquals(DataType.INT64, b.getDataType());
        assertArrayEquals(formula('i', 24), values(b), 0.0);
    }

    @Test
    void readsScalarEmptyAndNewerVersions() {
        NDArray s = Npy.read(fixture("npy/scalar_0d.npy"), manager);
        assertEquals(new Shape(), s.getShape());
        assertEquals(-2.5, s.getDouble(), 0.0);
        NDArray e = Npy.read(fixture("npy/empty.npy"), manager);
        assertEquals(new Shape(0, 3), e.getShape());
        for (String v : List.of("version_2.npy", "version_3.npy")) {
            NDArray a = Npy.read(fixture("npy/" + v), manager);
            assertEquals(new Shape(3, 4), a.getShape(), v);
            assertArrayEquals(formula('f', 12), values(a), 0.0, v);
        }
    }

    @Test
    void readsFromStream() throws Exception {
        byte[] file = Files.readAllBytes(fixture("npy/dtype_i4.npy"));
        NDArray a = Npy.read(new ByteArrayInputStream(file), manager);
        assertArrayEquals(formula('i', 24), values(a), 0.0);
    }

    @Test
    void readsAdmBatchAndCompressedStatistics() {
        Map<String, NDArray> batch = Npz.read(fixture("npy/batch_nhwc.npz"), manager);
        // np.savez(batch, labels=...) writes keyword arrays first: the file order is labels, arr_0
        assertEquals(List.of("labels", "arr_0"), List.copyOf(batch.keySet()), "file order");
        NDArray images = batch.get("arr_0");
        assertEquals(new Shape(8, 8, 8, 3), images.getShape());
        assertEquals(DataType.UINT8, images.getDataType());
        assertArrayEquals(formula('u', 8 * 8 * 8 * 3), values(images), 0.0);
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7}, batch.get("labels").toLongArray());

        Map<String, NDArray> stats = Npz.read(fixture("npy/stats_compressed.npz"), manager);
        assertEquals(List.of("mu", "sigma"), List.copyOf(stats.keySet()));
        assertArrayEquals(formula('f', 16), stats.get("mu").toDoubleArray(), 0.0);
        assertEquals(new Shape(16, 16), stats.get("sigma").getShape());
        assertArrayEquals(formula('f', 256), stats.get("sigma").toDoubleArray(), 0.0);
    }

    @Test
    void writesTheBytesNumpyWrites() throws Exception {
        for (String kind : List.of("f8", "f4", "f2", "i8", "i4", "i1", "u1", "b1")) {
            Path fixture = fixture("npy/dtype_" + kind + ".npy");
            Path out = tmp.resolve(kind + ".npy");
            Npy.write(out, Npy.read(fixture, manager));
            assertArrayEquals(Files.readAllBytes(fixture), Files.readAllBytes(out), kind + ": byte-identical to np.save");
        }
    }

    /** Round trip of every dtype a DJL array can hold (DJL cannot create BFLOAT16 or INT16 arrays). */
    @ParameterizedTest
    @ValueSource(strings = {"FLOAT64", "FLOAT32", "FLOAT16", "INT64", "INT32", "INT8", "UINT8", "BOOLEAN"})
    void roundTripsEveryDtype(DataType type) throws Exception {
        NDArray a = manager.arange(0f, 60f).sub(20).toType(type, false).reshape(3, 4, 5);
        NDArray t = a.transpose(2, 0, 1); // a non-contiguous layout is written in C order
        NDArray scalar = manager.create(7f).toType(type, false);
        NDArray empty = manager.zeros(new Shape(0, 4), type);
        for (NDArray x : List.of(a, t, scalar, empty)) {
            Path f = tmp.resolve("x.npy");
            Npy.write(f, x);
            NDArray back = Npy.read(f, manager);
            assertEquals(x.getShape(), back.getShape());
            assertEquals(type, back.getDataType());
            assertArrayEquals(bytes(x.toType(type, true)), bytes(back), type + " " + x.getShape());

            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            Npy.write(bos, x);
            NDArray fromStream = Npy.read(new ByteArrayInputStream(bos.toByteArray()), manager);
            assertArrayEquals(bytes(back), bytes(fromStream));
        }
        for (boolean compressed : new boolean[] {false, true}) {
            Map<String, NDArray> in = new LinkedHashMap<>();
            in.put("z", a);
            in.put("a_t", t);
            in.put("scalar", scalar);
            in.put("empty", empty);
            Path f = tmp.resolve("x.npz");
            Npz.write(f, in, compressed);
            Map<String, NDArray> back = Npz.read(f, manager);
            assertEquals(List.copyOf(in.keySet()), List.copyOf(back.keySet()), "insertion order kept");
            for (String k : in.keySet()) {
                assertEquals(in.get(k).getShape(), back.get(k).getShape(), k);
                assertArrayEquals(bytes(in.get(k).toType(type, true)), bytes(back.get(k)), k);
            }
        }
    }

    @Test
    void writesVersion2WhenTheHeaderNeedsIt() throws Exception {
        long[] dims = new long[7000]; // 7000 dims of size 1: a header of about 21 KB stays version 1.0
        java.util.Arrays.fill(dims, 1);
        NpyHeader small = new NpyHeader(ElementType.F32, false, dims);
        assertEquals(1, small.encode()[6]);
        long[] many = new long[30000];
        java.util.Arrays.fill(many, 1);
        byte[] big = new NpyHeader(ElementType.F32, false, many).encode();
        assertEquals(2, big[6], "more than 65535 header bytes need version 2.0");
        assertEquals(0, big.length % 64);
        assertEquals(30000, Npy.readHeader(new ByteArrayInputStream(big), "big").shape().length);
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "object.npy;object array (dtype |O)",
        "big_endian.npy;big-endian numpy dtype '>f4' is not supported",
        "complex.npy;unsupported numpy dtype '<c8'",
        "structured.npy;structured numpy arrays",
        "truncated_data.npy;truncated: the data has 86 bytes, shape [2, 3, 4] of <f4 needs 96",
        "truncated_header.npy;truncated .npy header",
        "bad_magic.npy;not a .npy file",
        "bad_header.npy;bad .npy header"})
    void reportsBadFiles(String name, String problem) {
        Path file = fixture("npy/bad/" + name);
        FormatException e = assertThrows(FormatException.class, () -> Npy.read(file, manager));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }

    @Test
    void reportsBadNpz() throws Exception {
        Path notZip = tmp.resolve("bad.npz");
        Files.writeString(notZip, "not a zip");
        FormatException e = assertThrows(FormatException.class, () -> Npz.read(notZip, manager));
        assertTrue(e.getMessage().startsWith(notZip.toString()), e.getMessage());
        byte[] good = Files.readAllBytes(fixture("npy/batch_nhwc.npz"));
        Path truncated = tmp.resolve("truncated.npz");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 2));
        assertThrows(FormatException.class, () -> Npz.read(truncated, manager));
    }
}
