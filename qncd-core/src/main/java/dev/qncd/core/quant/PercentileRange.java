package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Percentile clipping (not in Q-Diffusion/QNCD; offered for experiments): max = quantile(x, p),
 * min = quantile(x, 1 − p) per tensor or per channel, with linear interpolation between order
 * statistics (as {@code torch.quantile}'s default): for sorted values v_0..v_{n−1} and k = q·(n − 1),
 * quantile = v_⌊k⌋ + (v_⌈k⌉ − v_⌊k⌋)·(k − ⌊k⌋).
 *
 * <p>The range is then widened to contain 0 — min' = min(min, 0), max' = max(max, 0) — and Δ, z follow
 * {@link QuantParams#fromRange}. With p = 1 this is DESIGN.md's clamped min-max form
 * Δ = (max' − min')/(2^b − 1), z = round(−min'/Δ).
 */
public final class PercentileRange implements RangeEstimator {

    /** {@inheritDoc} */
    @Override
    public QuantParams estimate(NDArray x, QuantizerConfig config) {
        int axis = RangeEstimator.channelAxis(x, config, "PercentileRange");
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray xf = Tensors.float32(sub, x);
            NDArray rows = axis < 0
                    ? Tensors.own(sub, xf.reshape(1, -1))
                    : Tensors.own(sub, xf.swapAxes(0, axis)).reshape(x.getShape().get(axis), -1);
            NDArray sorted = rows.sort(1);
            NDArray hi = quantile(sorted, config.percentile()).maximum(0f);
            NDArray lo = quantile(sorted, 1.0 - config.percentile()).minimum(0f);
            if (axis < 0) {
                hi = hi.reshape();
                lo = lo.reshape();
            }
            QuantParams p = QuantParams.fromRange(lo, hi, config);
            p.delta().attach(caller);
            p.zeroPoint().attach(caller);
            return p;
        }
    }

    private static NDArray quantile(NDArray sorted, double q) {
        long n = sorted.getShape().get(1);
        double k = q * (n - 1);
        long lo = (long) Math.floor(k);
        long hi = Math.min(lo + 1, n - 1);
        float frac = (float) (k - lo);
        NDArray vLo = Tensors.slice(sorted, 1, lo, lo + 1).squeeze(1);
        NDArray vHi = Tensors.slice(sorted, 1, hi, hi + 1).squeeze(1);
        return vLo.add(vHi.sub(vLo).mul(frac));
    }
}
