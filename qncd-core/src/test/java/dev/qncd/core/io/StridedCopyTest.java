package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Strided gathers against a direct index computation. Exact: integer element copies. */
class StridedCopyTest {

    private static int[] gather(int[] storage, long offset, long[] shape, long[] stride) {
        ByteBuffer src = ByteBuffer.allocate(storage.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        src.asIntBuffer().put(storage);
        int n = (int) StridedCopy.numel(shape);
        ByteBuffer dst = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        StridedCopy.gather(src, offset, shape, stride, 4, dst);
        int[] out = new int[n];
        dst.asIntBuffer().get(out);
        return out;
    }

    /** The reference: out[i0, i1, i2] = storage[offset + i0*s0 + i1*s1 + i2*s2]. */
    private static int[] reference(int[] storage, long offset, long[] shape, long[] stride) {
        int n = (int) StridedCopy.numel(shape);
        int[] out = new int[n];
        long[] idx = new long[shape.length];
        for (int k = 0; k < n; k++) {
            long pos = offset;
            for (int d = 0; d < shape.length; d++) {
                pos += idx[d] * stride[d];
            }
            out[k] = storage[(int) pos];
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
        return out;
    }

    @Test
    void matchesIndexArithmetic() {
        int[] storage = new int[200];
        for (int i = 0; i < storage.length; i++) {
            storage[i] = i * 31 + 7;
        }
        long[][][] cases = {
            {{4, 6}, {6, 1}, {0}},          // contiguous
            {{6, 4}, {1, 6}, {0}},          // transposed
            {{2, 3}, {6, 1}, {8}},          // slice with offset
            {{4, 3}, {6, 2}, {1}},          // stepped
            {{3, 4}, {1, 0}, {5}},          // expanded (stride 0)
            {{2, 3, 4}, {1, 2, 6}, {3}},    // Fortran order
            {{2, 1, 3}, {12, 99, 4}, {2}},  // size-1 dim with an odd stride
            {{}, {}, {17}},                 // 0-d
            {{5}, {7}, {0}},                // 1-d strided
        };
        for (long[][] c : cases) {
            assertArrayEquals(reference(storage, c[2][0], c[0], c[1]), gather(storage, c[2][0], c[0], c[1]),
                    java.util.Arrays.deepToString(c));
        }
    }

    @Test
    void describesLayouts() {
        assertTrue(StridedCopy.isContiguous(new long[] {2, 1, 3}, new long[] {3, 42, 1}));
        assertFalse(StridedCopy.isContiguous(new long[] {3, 2}, new long[] {1, 3}));
        assertEquals(18, StridedCopy.elementsNeeded(2, new long[] {4, 4}, new long[] {4, 1}));
        assertEquals(0, StridedCopy.elementsNeeded(5, new long[] {0, 4}, new long[] {4, 1}));
        assertArrayEquals(new long[] {12, 4, 1}, StridedCopy.contiguousStrides(new long[] {2, 3, 4}));
    }
}
