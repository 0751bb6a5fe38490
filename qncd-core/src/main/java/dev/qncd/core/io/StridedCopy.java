package dev.qncd.core.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Copies the elements of a strided view (shape, strides and offset in elements, as PyTorch and numpy
 * describe views) out of a flat byte buffer into a new C-contiguous buffer.
 *
 * <p>Dimensions that are contiguous with respect to each other are merged first, so a slice such as
 * {@code x[1:3, 2:5]} copies whole rows with one bulk copy each; only a last dimension with a stride
 * other than one (a transposed or stepped view, or an {@code expand} with stride 0) copies element by
 * element.
 */
final class StridedCopy {

    private StridedCopy() {}

    /**
     * @param shape sizes per dimension
     * @return C-contiguous strides in elements for {@code shape}
     */
    static long[] contiguousStrides(long[] shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }

    /**
     * @param shape sizes per dimension
     * @param stride strides in elements
     * @return whether the view is C-contiguous (dimensions of size one may have any stride)
     */
    static boolean isContiguous(long[] shape, long[] stride) {
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && stride[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    /**
     * @param shape sizes per dimension
     * @return the number of elements (1 for a 0-d array)
     */
    static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    /**
     * @param offset the view's first element
     * @param shape sizes per dimension
     * @param stride strides in elements (non-negative)
     * @return the number of storage elements the view needs: its last element's index plus one (0 when
     *     the view is empty)
     */
    static long elementsNeeded(long offset, long[] shape, long[] stride) {
        long last = offset;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 0) {
                return 0;
            }
            last = Math.addExact(last, Math.multiplyExact(shape[d] - 1, stride[d]));
        }
        return last + 1;
    }

    /**
     * Gathers a strided view into {@code dst}.
     *
     * @param source the storage; element {@code i} starts at byte {@code i * elementBytes} (absolute
     *     indexing, the buffer's position is ignored)
     * @param offset the view's first element
     * @param shape sizes per dimension
     * @param stride strides in elements
     * @param elementBytes bytes per element
     * @param target receives the elements in C order from its index 0; must hold {@code numel * elementBytes}
     */
    static void gather(ByteBuffer source, long offset, long[] shape, long[] stride, int elementBytes, ByteBuffer target) {
        // same byte order on both sides, so multi-byte element copies move the bytes unchanged
        ByteBuffer src = source.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer dst = target.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        // merge dimensions: drop size-1 dims, fuse d with d+1 when stride[d] == shape[d+1] * stride[d+1]
        long[] sh = new long[shape.length];
        long[] st = new long[shape.length];
        int n = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) {
                continue;
            }
            if (shape[d] == 0) {
                return;
            }
            if (n > 0 && st[n - 1] == shape[d] * stride[d]) {
                sh[n - 1] *= shape[d];
                st[n - 1] = stride[d];
            } else {
                sh[n] = shape[d];
                st[n] = stride[d];
                n++;
            }
        }
        if (n == 0) {
            copy(src, offset * elementBytes, dst, 0, elementBytes);
            return;
        }
        long inner = sh[n - 1];
        long innerStride = st[n - 1];
        int runBytes = Math.toIntExact(inner * elementBytes);
        long[] index = new long[n - 1];
        long outPos = 0;
        long base = offset;
        while (true) {
            if (innerStride == 1) {
                copy(src, base * elementBytes, dst, outPos, runBytes);
                outPos += runBytes;
            } else {
                long e = base;
                for (long i = 0; i < inner; i++, e += innerStride) {
                    copyElement(src, e * elementBytes, dst, outPos, elementBytes);
                    outPos += elementBytes;
                }
            }
            int d = n - 2;
            while (d >= 0) {
                index[d]++;
                base += st[d];
                if (index[d] < sh[d]) {
                    break;
                }
                base -= st[d] * sh[d];
                index[d] = 0;
                d--;
            }
            if (d < 0) {
                return;
            }
        }
    }

    private static void copy(ByteBuffer src, long srcPos, ByteBuffer dst, long dstPos, int length) {
        dst.put(Math.toIntExact(dstPos), src, Math.toIntExact(srcPos), length);
    }

    private static void copyElement(ByteBuffer src, long srcPos, ByteBuffer dst, long dstPos, int elementBytes) {
        int s = Math.toIntExact(srcPos);
        int t = Math.toIntExact(dstPos);
        switch (elementBytes) {
            case 1 -> dst.put(t, src.get(s));
            case 2 -> dst.putShort(t, src.getShort(s));
            case 4 -> dst.putInt(t, src.getInt(s));
            case 8 -> dst.putLong(t, src.getLong(s));
            default -> dst.put(t, src, s, elementBytes);
        }
    }
}
