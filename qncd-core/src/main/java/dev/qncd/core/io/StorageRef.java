package dev.qncd.core.io;

import java.util.ArrayList;
import java.util.List;

/**
 * One storage of a checkpoint as its pickle describes it (key, element type, element count), with the
 * tensors that view it. The bytes themselves are read later, once, by the checkpoint source.
 */
final class StorageRef {
    /** The storage's key: the record name {@code data/<key>} (zip) or its position key (legacy). */
    final String key;
    /** The element type named by the storage class. */
    final ElementType type;
    /** Elements the pickle declares. */
    final long numel;
    /** Tensors that view this storage, in unpickling order. */
    final List<TensorRef> tensors = new ArrayList<>();

    StorageRef(String key, ElementType type, long numel) {
        this.key = key;
        this.type = type;
        this.numel = numel;
    }

    /** @return the bytes the pickle declares */
    long declaredBytes() {
        return Math.multiplyExact(numel, (long) type.bytes());
    }

    /**
     * A storage as persistent_load returns it: a root storage, or (legacy format only) a window of it.
     *
     * @param root the storage holding the bytes
     * @param offset the window's first element in {@code root}
     * @param size the window's length in elements
     */
    record View(StorageRef root, long offset, long size) {}
}
