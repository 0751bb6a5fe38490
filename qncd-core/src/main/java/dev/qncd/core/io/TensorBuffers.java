package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Turns raw little-endian element bytes into tensors that own their memory (a copy), for readers that
 * reuse one read buffer across tensors (safetensors). bfloat16 and int16, which DJL's PyTorch engine
 * cannot hold, are widened as {@link DjlTypes} describes.
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
        return DjlTypes.dataType(type);
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
        if (s.size() == 0) {
            return manager.create(s, loadedType(type));
        }
        ByteBuffer src = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (!src.isDirect()) {
            ByteBuffer direct = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
            src = direct.put(src).flip();
        }
        ByteBuffer laid = DjlTypes.toArrayLayout(src, type, s.size());
        // Wrap (PyTorch views the buffer), then clone so the caller may reuse its buffer at once.
        try (NDArray view = manager.create(laid, s, loadedType(type))) {
            return view.duplicate();
        }
    }
}
