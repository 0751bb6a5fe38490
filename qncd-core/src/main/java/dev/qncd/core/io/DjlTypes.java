package dev.qncd.core.io;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;

/**
 * The element types DJL arrays can hold, and the exact widening of the two stored types they cannot.
 *
 * <p>DJL 0.36's PyTorch engine (native 2.7.1) terminates the JVM ("terminate called without an active
 * exception") when it creates a BFLOAT16 or an INT16 array, whether from a buffer, with {@code zeros}
 * or with {@code toType} (checked on this project's pinned natives). Readers therefore widen bfloat16
 * to float32 (a bfloat16 is the upper half of a float32) and int16 to int32; both are exact.
 */
final class DjlTypes {

    private DjlTypes() {}

    /**
     * @param stored the element type in the file
     * @return the element type of the array made from it
     */
    static ElementType arrayType(ElementType stored) {
        return switch (stored) {
            case BF16 -> ElementType.F32;
            case I16 -> ElementType.I32;
            default -> stored;
        };
    }

    /**
     * @param stored the element type in the file
     * @return the DJL data type of the array made from it
     */
    static DataType dataType(ElementType stored) {
        return arrayType(stored).dataType();
    }

    /**
     * @param contiguous C-ordered elements of the stored type (position ignored, capacity = numel x size)
     * @param stored the stored element type
     * @param numel the element count
     * @return {@code contiguous} itself, or a new buffer of {@link #arrayType} elements
     */
    static ByteBuffer toArrayLayout(ByteBuffer contiguous, ElementType stored, long numel) {
        if (arrayType(stored) == stored) {
            return contiguous;
        }
        ShortBuffer src = contiguous.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        ByteBuffer out = DirectBuffers.allocate(numel * 4);
        IntBuffer dst = out.asIntBuffer();
        int n = Math.toIntExact(numel);
        if (stored == ElementType.BF16) {
            for (int i = 0; i < n; i++) {
                dst.put(i, (src.get(i) & 0xffff) << 16);
            }
        } else {
            for (int i = 0; i < n; i++) {
                dst.put(i, src.get(i));
            }
        }
        return out;
    }
}
