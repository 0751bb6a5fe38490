package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Q-Diffusion's {@code scale_method='mse'} (qdiff/quant_layer.py lines 162–177): LAPQ's L_p search
 * (arXiv 1911.07190) over 80 shrinking ranges.
 *
 * <p>For i = 0..79: new_max = max x·(1 − 0.01 i), new_min = min x·(1 − 0.01 i) (min/max not clamped to
 * 0), (Δ_i, z_i) = {@link QuantParams#fromRange}(new_min, new_max), score_i = mean |x − q_i(x)|^2.4;
 * keep the first i with the strictly smallest score. All arithmetic is float32 tensor arithmetic as in
 * the reference (the factor 1 − 0.01 i is formed in double and rounded to float, like a Python scalar
 * applied to a float32 tensor).
 *
 * <p>Per channel the reference runs this search channel by channel ({@code x_clone[c]}); here every
 * channel is searched at once — Δ_i and z_i are (C)-vectors broadcast along the channel axis and the
 * score is a per-channel mean — which scores each channel independently and so picks the same i per
 * channel (up to float summation order in the means). Memory stays at a few copies of x: the 80
 * candidates are evaluated one after another, each in its own sub-manager.
 *
 * <p>Symmetric configs: the reference's MSE path ignores {@code symmetric} when it picks Δ and z
 * (it always uses the asymmetric formulas, and clamps to only 2^(b−1) − 1 levels while scoring); this
 * class instead searches symmetric candidates (Δ = |range|/(2^(b−1) − 1), z = 0) consistently.
 */
public final class MseRangeSearch implements RangeEstimator {
    private static final Logger LOG = LoggerFactory.getLogger(MseRangeSearch.class);

    /** Number of candidate ranges (reference: {@code range(80)}). */
    public static final int CANDIDATES = 80;
    /** Shrink step per candidate (reference: {@code i * 0.01}). */
    public static final double STEP = 0.01;
    /** Norm exponent p of the LAPQ score (reference: {@code lp_loss(..., p=2.4)}). */
    public static final float P = 2.4f;
    private static final float NO_SCORE = 1e10f;

    /** {@inheritDoc} */
    @Override
    public QuantParams estimate(NDArray x, QuantizerConfig config) {
        int axis = RangeEstimator.channelAxis(x, config, "MseRangeSearch");
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray xf = Tensors.float32(sub, x);
            // per channel: work on the (C, N) rows so that Δ, z broadcast as (C, 1) and scores are row means
            NDArray data = axis < 0 ? xf : Tensors.rows(sub, xf, axis);
            NDArray xMax = axis < 0 ? Tensors.max(sub, xf, -1) : data.max(new int[] {1});
            NDArray xMin = axis < 0 ? Tensors.min(sub, xf, -1) : data.min(new int[] {1});
            NDArray best = xMax.zerosLike().add(NO_SCORE);
            NDArray bestDelta = xMax.onesLike();
            NDArray bestZp = xMax.zerosLike();
            for (int i = 0; i < CANDIDATES; i++) {
                float f = (float) (1.0 - (i * STEP));
                try (NDManager it = sub.newSubManager()) {
                    QuantParams p = QuantParams.fromRange(
                            Tensors.own(it, xMin.mul(f)), Tensors.own(it, xMax.mul(f)), config);
                    NDArray d = p.delta();
                    NDArray z = p.zeroPoint();
                    NDArray db = axis < 0 ? d : d.expandDims(1);
                    NDArray zb = axis < 0 ? z : z.expandDims(1);
                    NDArray q = UniformAffineQuantizer.fakeQuantize(it, data, db, zb, config);
                    NDArray err = Tensors.own(it, data.sub(q)).abs().pow(P);
                    NDArray score = axis < 0 ? err.mean() : err.mean(new int[] {1});
                    NDArray better = score.lt(best);
                    NDArray nb = NDArrays.where(better, score, best);
                    NDArray nd = NDArrays.where(better, d, bestDelta);
                    NDArray nz = NDArrays.where(better, z, bestZp);
                    for (NDArray a : new NDArray[] {nb, nd, nz}) {
                        a.attach(sub);
                    }
                    // the previous best arrays live in sub: free them now to keep the footprint flat
                    best.close();
                    bestDelta.close();
                    bestZp.close();
                    best = nb;
                    bestDelta = nd;
                    bestZp = nz;
                }
            }
            if (best.gte(NO_SCORE).any().getBoolean()) {
                LOG.warn("MSE range search found no finite score (non-finite input?): kept delta=1, zero_point=0");
            }
            bestDelta.attach(caller);
            bestZp.attach(caller);
            return new QuantParams(bestDelta, bestZp);
        }
    }
}
