package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;

/**
 * Turns raw little-endian element bytes into tensors that own their memory.
 *
 * <p>DJL 0.36's PyTorch engine aborts the JVM on tensors of type bfloat16 or int16 (checked: both
 * {@code create} and {@code toType} terminate the process), so those two are widened while loading:
 * bfloat16 to float32 (exact: a bfloat16 is the upper half of a float32) and int16 to int32 (exact).
 * Every other type keeps its stored type.
 */
public final class TensorBuffers {
    private TensorBuffers() {}

    /**
     * The type a stored element type is loaded as.
     *
     * @param type the stored type
     * @return the DJL type of the loaded tensor
     */
    public static DataType loadedType(ElementType type) {
        return switch (type) {
            case BF16 -> DataType.FLOAT32;
            case I16 -> DataType.INT32;
            default -> type.dataType();
        };
    }

    /**
     * Creates a tensor holding a copy of {@code data}.
     *
     * @param manager owner of the new tensor
     * @param data exactly {@code numel * type.bytes()} bytes from position to limit, little-endian; any
     *     buffer (heap or direct); it may be reused by the caller as soon as this returns
     * @param shape dimensions
     * @param type stored element type
     * @return a contiguous tensor of type {@link #loadedType(ElementType)}
     */
    public static NDArray fromLittleEndian(NDManager manager, ByteBuffer data, long[] shape, ElementType type) {
        Shape s = new Shape(shape);
        long numel = s.size();
        ByteBuffer src = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (numel == 0) {
            return manager.create(s, loadedType(type));
        }
        if (type == ElementType.BF16 || type == ElementType.I16) {
            ByteBuffer wide = ByteBuffer.allocateDirect(Math.toIntExact(numel * 4)).order(ByteOrder.nativeOrder());
            ShortBuffer in = src.asShortBuffer();
            if (type == ElementType.BF16) {
                while (in.hasRemaining()) {
                    wide.putInt((in.get() & 0xffff) << 16);
                }
            } else {
                while (in.hasRemaining()) {
                    wide.putInt(in.get());
                }
            }
            wide.flip();
            return wrapAndCopy(manager, wide, s, loadedType(type));
        }
        ByteBuffer direct = src;
        if (!src.isDirect() || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            direct = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
            direct.put(src).flip();
        }
        return wrapAndCopy(manager, direct, s, type.dataType());
    }

    /** Wraps a direct native-order buffer in a tensor view, then clones it so the buffer can be reused. */
    private static NDArray wrapAndCopy(NDManager manager, ByteBuffer direct, Shape shape, DataType type) {
        try (NDArray view = manager.create(direct, shape, type)) {
            return view.duplicate();
        }
    }
}
