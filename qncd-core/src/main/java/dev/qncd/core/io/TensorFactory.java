package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import java.nio.ByteBuffer;

/**
 * Turns a strided view of a byte buffer into a C-contiguous DJL array of the stored element type.
 *
 * <p>A contiguous view covering the whole buffer wraps the buffer itself (PyTorch on the CPU shares
 * direct-buffer memory, so nothing is copied); a contiguous part is copied in bulk; any other view is
 * gathered by {@link StridedCopy}. bfloat16 and int16 are widened (see {@link DjlTypes}).
 */
final class TensorFactory {

    private TensorFactory() {}

    /**
     * @param manager owns the new array
     * @param data the elements; its limit is the number of bytes that exist
     * @param type the element type
     * @param offset the view's first element
     * @param shape sizes per dimension
     * @param stride strides in elements
     * @param mayWrap whether the array may take over {@code data} itself (only one array per buffer)
     * @param where describes the data for messages, e.g. {@code model.pt: truncated: storage 3}
     * @param what describes the view for messages, e.g. {@code tensor 'conv.weight'}
     * @param fix what the user should do when the data is too short
     * @return the array
     * @throws FormatException when the view reaches past the data
     */
    static NDArray create(NDManager manager, ByteBuffer data, ElementType type, long offset, long[] shape,
            long[] stride, boolean mayWrap, String where, String what, String fix) {
        int esz = type.bytes();
        long numel = StridedCopy.numel(shape);
        long needBytes = Math.multiplyExact(StridedCopy.elementsNeeded(offset, shape, stride), (long) esz);
        if (needBytes > data.limit()) {
            throw new FormatException(where + " has " + data.limit() + " bytes, " + what + " needs " + needBytes
                    + " (offset " + offset + ", shape " + shapeString(shape) + ", " + type + "); " + fix);
        }
        Shape djlShape = new Shape(shape);
        if (numel == 0) {
            return manager.zeros(djlShape, DjlTypes.dataType(type));
        }
        long bytes = numel * esz;
        ByteBuffer out;
        if (StridedCopy.isContiguous(shape, stride)) {
            if (mayWrap && wouldWrap(data, type, offset, shape, stride)) {
                out = data.duplicate().clear();
            } else {
                out = DirectBuffers.allocate(bytes);
                out.put(0, data, Math.toIntExact(offset * esz), Math.toIntExact(bytes));
            }
        } else {
            out = DirectBuffers.allocate(bytes);
            StridedCopy.gather(data, offset, shape, stride, esz, out);
        }
        return manager.create(DjlTypes.toArrayLayout(out, type, numel), djlShape, DjlTypes.dataType(type));
    }

    /**
     * @param data the elements
     * @param type the element type
     * @param offset the view's first element
     * @param shape sizes per dimension
     * @param stride strides in elements
     * @return whether the view is exactly the whole buffer in C order, so an array can wrap it
     */
    static boolean wouldWrap(ByteBuffer data, ElementType type, long offset, long[] shape, long[] stride) {
        long bytes = StridedCopy.numel(shape) * type.bytes();
        return bytes > 0 && offset == 0 && bytes == data.capacity() && bytes == data.limit()
                && StridedCopy.isContiguous(shape, stride);
    }

    /** @return e.g. {@code [4, 4]} */
    static String shapeString(long[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return sb.append(']').toString();
    }
}
