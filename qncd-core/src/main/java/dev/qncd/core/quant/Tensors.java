package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Shape helpers shared by the quantizers and layers (package-private, no maths of its own). */
final class Tensors {
    private Tensors() {}

    /**
     * Moves a freshly created array (the result of an op whose first operand lives in another manager)
     * into {@code m}. Never pass a caller's array: this package does not move arrays it did not create,
     * so a caller's own scoping of its inputs is never disturbed.
     *
     * @param m the sub-manager that owns the temporaries
     * @param fresh an array created by this package
     * @return {@code fresh}, now attached to {@code m}
     */
    static NDArray own(NDManager m, NDArray fresh) {
        fresh.attach(m);
        return fresh;
    }

    /**
     * x as float32: x itself when it already is (not owned by {@code m}), else a converted copy owned by
     * {@code m}.
     */
    static NDArray float32(NDManager m, NDArray x) {
        return x.getDataType() == DataType.FLOAT32 ? x : own(m, x.toType(DataType.FLOAT32, false));
    }

    /**
     * @param axis an axis, negative counting from the end
     * @param rank the tensor rank
     * @param what what the axis belongs to, for the error message
     * @return the axis in 0..rank−1
     */
    static int normalizeAxis(int axis, int rank, String what) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) {
            throw new IllegalArgumentException(what + ": channel axis " + axis + " does not exist in a tensor"
                    + " of rank " + rank + ": pass a tensor with that axis or set channelAxis in -"
                    + rank + ".." + (rank - 1));
        }
        return a;
    }

    /** @return every axis of a rank-{@code rank} tensor except {@code axis} */
    static int[] otherAxes(int rank, int axis) {
        int[] out = new int[rank - 1];
        for (int i = 0, j = 0; i < rank; i++) {
            if (i != axis) {
                out[j++] = i;
            }
        }
        return out;
    }

    /** @return the shape (1, …, c, …, 1) of rank {@code rank} with {@code c} at {@code axis} */
    static Shape broadcastShape(int rank, int axis, long c) {
        long[] dims = new long[rank];
        for (int i = 0; i < rank; i++) {
            dims[i] = i == axis ? c : 1;
        }
        return new Shape(dims);
    }

    /** @return x[..., from:to, ...] along {@code axis} (a view in x's manager) */
    static NDArray slice(NDArray x, int axis, long from, long to) {
        return x.get(new NDIndex().addAllDim(axis).addSliceDim(from, to));
    }

    /**
     * x as a (C, N) matrix with one row per index of {@code axis} (owned by {@code m}).
     *
     * @param m scope for the temporaries
     * @param x the tensor
     * @param axis the channel axis (≥ 0)
     * @return the rows
     */
    static NDArray rows(NDManager m, NDArray x, int axis) {
        long c = x.getShape().get(axis);
        NDArray moved = axis == 0 ? x : own(m, x.swapAxes(0, axis));
        return own(m, moved.reshape(c, -1));
    }

    /**
     * Per-channel (or whole-tensor) minimum.
     *
     * @param m scope owning the result and temporaries
     * @param x the tensor
     * @param axis the channel axis, or −1 for a scalar over all elements
     * @return shape (C) or (), in {@code m}
     */
    static NDArray min(NDManager m, NDArray x, int axis) {
        return axis < 0 ? own(m, x.min()) : rows(m, x, axis).min(new int[] {1});
    }

    /** @see #min(NDManager, NDArray, int) */
    static NDArray max(NDManager m, NDArray x, int axis) {
        return axis < 0 ? own(m, x.max()) : rows(m, x, axis).max(new int[] {1});
    }

    /** Mean over every axis except {@code axis} (all axes when −1), shape (C) or (), in {@code m}. */
    static NDArray mean(NDManager m, NDArray x, int axis) {
        return axis < 0 ? own(m, x.mean()) : rows(m, x, axis).mean(new int[] {1});
    }
}
