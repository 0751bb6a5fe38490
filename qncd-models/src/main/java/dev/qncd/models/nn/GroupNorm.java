package dev.qncd.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import java.util.HashMap;
import java.util.Map;

/**
 * Group normalisation (Wu and He 2018; {@code torch.nn.GroupNorm}): for input (N, C, ...) split into G
 * groups of C/G channels, y = (x − mean_g) / sqrt(var_g + eps) · γ_c + β_c with biased variance over
 * each group's channels and positions.
 *
 * <p>DJL has no GroupNorm; the fastest form measured on this machine (NOTES-DJL) reshapes to
 * (N, G, C/G·H·W), applies {@code LayerNorm.layerNorm} over the last axis with unit weight and zero
 * bias, reshapes back and applies the per-channel affine.
 */
public final class GroupNorm {
    private final int groups;
    private final float eps;
    private final NDArray gamma;
    private final NDArray beta;
    private final NDArray gamma4;
    private final NDArray beta4;
    private final Map<Long, NDArray[]> unitAffine = new HashMap<>();

    /**
     * @param groups G
     * @param eps added to the variance
     * @param gamma per-channel scale (C)
     * @param beta per-channel shift (C)
     */
    public GroupNorm(int groups, float eps, NDArray gamma, NDArray beta) {
        long c = gamma.getShape().get(0);
        if (c % groups != 0) {
            throw new IllegalArgumentException("GroupNorm: " + c + " channels are not divisible into " + groups + " groups");
        }
        this.groups = groups;
        this.eps = eps;
        this.gamma = gamma;
        this.beta = beta;
        // Views for (N, C, H, W) inputs, made once: a reshape per call would pile up in the model's manager.
        this.gamma4 = gamma.reshape(1, c, 1, 1);
        this.beta4 = beta.reshape(1, c, 1, 1);
    }

    /** @return γ (C) */
    public NDArray gamma() {
        return gamma;
    }

    /** @return β (C) */
    public NDArray beta() {
        return beta;
    }

    /** @return ε */
    public float eps() {
        return eps;
    }

    /** @return G */
    public int groups() {
        return groups;
    }

    /**
     * @param x input (N, C, ...)
     * @return the normalised input, attached to x's manager
     */
    public NDArray forward(NDArray x) {
        NDArray normalized = normalizeOnly(x);
        if (x.getShape().dimension() == 4) {
            return normalized.muli(gamma4).addi(beta4);
        }
        long[] affineShape = new long[x.getShape().dimension()];
        java.util.Arrays.fill(affineShape, 1);
        affineShape[1] = x.getShape().get(1);
        NDArray g = gamma.reshape(affineShape);
        NDArray b = beta.reshape(affineShape);
        g.attach(x.getManager());
        b.attach(x.getManager());
        return normalized.muli(g).addi(b);
    }

    /**
     * The normalisation without the affine part: (x − mean_g) / sqrt(var_g + eps).
     *
     * @param x input (N, C, ...)
     * @return the normalised input, attached to x's manager
     */
    public NDArray normalizeOnly(NDArray x) {
        Shape shape = x.getShape();
        long n = shape.get(0);
        long groupSize = shape.size() / n / groups;
        NDArray[] unit = unitAffine(x.getManager(), groupSize);
        NDArray grouped = x.reshape(n, groups, groupSize);
        NDArray y = LayerNorm.layerNorm(grouped, new Shape(groupSize), unit[0], unit[1], eps).singletonOrThrow();
        return y.reshape(shape);
    }

    private NDArray[] unitAffine(NDManager callerManager, long size) {
        synchronized (unitAffine) {
            return unitAffine.computeIfAbsent(size, s -> {
                NDManager owner = gamma.getManager();
                NDArray ones = owner.ones(new Shape(s), gamma.getDataType(), gamma.getDevice());
                NDArray zeros = owner.zeros(new Shape(s), gamma.getDataType(), gamma.getDevice());
                return new NDArray[] {ones, zeros};
            });
        }
    }
}
