package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.qncd.core.QncdException;

/**
 * The codebook lookup of taming-transformers' {@code VectorQuantizer2} (key {@code quantize.embedding.weight},
 * n_embed x embed_dim) at inference: each latent vector z_i (the channels at one position) is replaced
 * by its nearest codebook entry e_k, k = argmin_j ‖z_i‖² + ‖e_j‖² − 2·z_i·e_j (the reference's
 * expansion of the squared distance, first index on ties), returned as z + (e_k − z) exactly as the
 * reference's straight-through form computes it. The commitment loss and index remapping are training
 * matters and do not change the output.
 */
public final class VectorQuantizer {
    private final NDArray embedding;
    private final NDArray embeddingSq;
    private final NDArray embeddingT;

    /**
     * @param embedding the codebook (n_embed, embed_dim)
     */
    VectorQuantizer(NDArray embedding) {
        this.embedding = embedding;
        // made once: an op on a parameter puts its result in the model's manager
        this.embeddingSq = embedding.square().sum(new int[] {1}); // (n_embed)
        this.embeddingT = embedding.transpose(); // (embed_dim, n_embed)
    }

    /** @return the codebook (n_embed, embed_dim) */
    public NDArray codebook() {
        return embedding;
    }

    /**
     * @param z latents (N, embed_dim, h, w)
     * @return the index of the nearest codebook entry per position, (N, h, w) int64, in z's manager
     */
    public NDArray indices(NDArray z) {
        long d = embedding.getShape().get(1);
        if (z.getShape().dimension() != 4 || z.getShape().get(1) != d) {
            throw new QncdException("the quantizer expects latents of shape (N, " + d + ", h, w), got " + z.getShape());
        }
        NDManager caller = z.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray zs = z.duplicate();
            zs.attach(sub);
            NDArray flat = zs.transpose(0, 2, 3, 1).reshape(-1, d); // (N·h·w, d)
            NDArray dist = flat.square().sum(new int[] {1}, true).add(embeddingSq)
                    .sub(flat.matMul(embeddingT).mul(2));
            NDArray idx = dist.argMin(1).reshape(z.getShape().get(0), z.getShape().get(2), z.getShape().get(3));
            idx.attach(caller);
            return idx;
        }
    }

    /**
     * @param z latents (N, embed_dim, h, w)
     * @return the quantized latents (N, embed_dim, h, w), in z's manager
     */
    public NDArray quantize(NDArray z) {
        NDManager caller = z.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray zs = z.duplicate();
            zs.attach(sub);
            NDArray idx = indices(zs);
            NDArray zq = lookup(idx); // (N, h, w, d)
            NDArray zt = zs.transpose(0, 2, 3, 1);
            NDArray out = zt.add(zq.sub(zt)).transpose(0, 3, 1, 2); // z + (z_q − z), as the reference
            NDArray result = out.duplicate();
            result.attach(caller);
            return result;
        }
    }

    /**
     * The codebook entries of given indices ({@code embedding(indices)}).
     *
     * @param indices any shape, integer
     * @return (indices.shape..., embed_dim), in the indices' manager
     */
    public NDArray lookup(NDArray indices) {
        NDManager caller = indices.getManager();
        long n = embedding.getShape().get(0);
        try (NDManager sub = caller.newSubManager()) {
            NDArray flat = indices.toType(ai.djl.ndarray.types.DataType.INT64, false).reshape(-1);
            flat.attach(sub);
            if (flat.size() > 0) {
                long min = flat.min().getLong();
                long max = flat.max().getLong();
                if (min < 0 || max >= n) {
                    throw new QncdException("codebook index out of range [0, " + n + "): " + (min < 0 ? min : max));
                }
            }
            NDArray rows = embedding.get(new NDIndex("{}", flat));
            rows.attach(sub);
            long[] shape = new long[indices.getShape().dimension() + 1];
            System.arraycopy(indices.getShape().getShape(), 0, shape, 0, shape.length - 1);
            shape[shape.length - 1] = embedding.getShape().get(1);
            NDArray out = rows.reshape(shape);
            out.attach(caller);
            return out;
        }
    }
}
