package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Q-Diffusion's {@code scale_method='max'} (qdiff/quant_layer.py {@code init_quantization_scale},
 * lines 142–160), per tensor or per channel (the reference loops over channels of axis 0; this class
 * computes every channel of any axis at once with the same per-channel formula).
 *
 * <p>With x_min' = min(min x, 0), x_max' = max(max x, 0), in double precision (the reference uses
 * Python floats from {@code .item()}), then Δ stored as float32:
 * <ul>
 *   <li>symmetric: Δ = max(|x_min'|, x_max') / (2^(b−1) − 1), z = 0;</li>
 *   <li>otherwise: Δ = (max x − min x) / (2^b − 1) — note: the <em>unclamped</em> batch range, exactly as
 *       the reference (line 154), whereas DESIGN.md writes (max' − min')/(2^b − 1); the two differ only
 *       when a channel does not contain 0 in its range (all positive or all negative). Use
 *       {@link PercentileRange} with percentile 1.0 for DESIGN.md's clamped form;</li>
 *   <li>z = round(−x_min'/Δ) (round half to even, as Python's {@code round}), or 0 when symmetric or
 *       alwaysZero;</li>
 *   <li>Δ &lt; 1e-8 is raised to 1e-8 (with a warning) before z is computed.</li>
 * </ul>
 */
public final class MinMaxRange implements RangeEstimator {
    private static final Logger LOG = LoggerFactory.getLogger(MinMaxRange.class);

    /** {@inheritDoc} */
    @Override
    public QuantParams estimate(NDArray x, QuantizerConfig config) {
        int axis = RangeEstimator.channelAxis(x, config, "MinMaxRange");
        float[] mins;
        float[] maxs;
        try (NDManager sub = x.getManager().newSubManager()) {
            NDArray xf = Tensors.float32(sub, x);
            mins = Tensors.min(sub, xf, axis).toFloatArray();
            maxs = Tensors.max(sub, xf, axis).toFloatArray();
        }
        int n = mins.length;
        float[] delta = new float[n];
        float[] zp = new float[n];
        int tiny = 0;
        for (int c = 0; c < n; c++) {
            double mn = mins[c];
            double mx = maxs[c];
            double xMin = Math.min(mn, 0.0);
            double xMax = Math.max(mx, 0.0);
            double d;
            if (config.symmetric()) {
                d = Math.max(Math.abs(xMin), xMax) / ((1L << (config.bits() - 1)) - 1);
            } else {
                d = (mx - mn) / ((1L << config.bits()) - 1);
            }
            if (d < 1e-8) {
                tiny++;
                d = 1e-8;
            }
            double z = (config.symmetric() || config.alwaysZero()) ? 0.0 : Math.rint(-xMin / d);
            delta[c] = (float) d;
            zp[c] = (float) z + 0.0f; // no negative zero
        }
        if (tiny > 0) {
            LOG.warn("quantization range close to zero in {} of {} channel(s): delta raised to 1e-8", tiny, n);
        }
        Shape shape = axis < 0 ? new Shape() : new Shape(n);
        NDManager m = x.getManager();
        return new QuantParams(m.create(delta, shape), m.create(zp, shape));
    }
}
