package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** Fixture paths (written by scripts/make_io_fixtures.py) and exact array comparisons. */
final class IoFixtures {

    private IoFixtures() {}

    /** @return the path of {@code fixtures/io/<relative>} on the test class path */
    static Path fixture(String relative) {
        return dev.qncd.core.TestFixtures.path("io/" + relative); // made by scripts/make_io_fixtures.py
    }

    /** @return a copy of the array's bytes in C order */
    static byte[] bytes(NDArray a) {
        if (a.size() == 0) {
            return new byte[0];
        }
        ByteBuffer b = a.toByteBuffer();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /**
     * Exact comparison: same shape, same bytes. float16 actuals are widened to float32 first, which is
     * exact, and compared with the float32 expectation (bf16 and int16 arrive widened already).
     */
    static void assertSameValues(NDArray expected, NDArray actual, String name) {
        assertEquals(expected.getShape(), actual.getShape(), name + ": shape");
        NDArray a = actual;
        if (actual.getDataType() == DataType.FLOAT16) {
            a = actual.toType(DataType.FLOAT32, false);
        }
        assertEquals(expected.getDataType(), a.getDataType(), name + ": dtype");
        assertArrayEquals(bytes(expected), bytes(a), name + ": values (bitwise)");
    }
}
