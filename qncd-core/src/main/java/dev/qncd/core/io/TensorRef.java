package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;

/**
 * A tensor as the pickle describes it (a strided view of a storage), before its bytes are read; the
 * reader later fills {@link #array}.
 */
final class TensorRef {
    /** The storage holding the elements. */
    final StorageRef storage;
    /** The first element, in elements of the storage. */
    final long offset;
    /** Sizes per dimension (empty for a 0-d tensor). */
    final long[] shape;
    /** Strides in elements. */
    final long[] stride;
    /** The first dotted path the tensor was found under, for messages; set before reading. */
    String name;
    /** The materialised array, once read. */
    NDArray array;

    TensorRef(StorageRef storage, long offset, long[] shape, long[] stride) {
        this.storage = storage;
        this.offset = offset;
        this.shape = shape;
        this.stride = stride;
    }

    /** @return e.g. {@code offset 2, shape [4, 4], stride [4, 1]} */
    String describe() {
        return "offset " + offset + ", shape " + Arrays.toString(shape) + ", stride " + Arrays.toString(stride);
    }
}
