/**
 * Fake quantization for post-training quantization of diffusion models, after Q-Diffusion
 * (Li et al., ICCV 2023, GitHub Xiuyu-Li/q-diffusion, qdiff/quant_layer.py, qdiff/quant_block.py) as
 * used by QNCD (Chu et al., ACM MM 2024, GitHub huanpengchu/QNCD, quant/quant_layer.py,
 * quant/quant_block.py).
 *
 * <ul>
 *   <li>{@link dev.qncd.core.quant.QuantizerConfig} (record, presets) configures a
 *       {@link dev.qncd.core.quant.UniformAffineQuantizer}: q(x) = (clamp(round(x/Δ) + z, lo, hi) − z)·Δ
 *       with explicit states {@link dev.qncd.core.quant.QuantState} UNCALIBRATED → CALIBRATED → FROZEN.</li>
 *   <li>Range estimators, one algorithm each behind {@link dev.qncd.core.quant.RangeEstimator}:
 *       {@link dev.qncd.core.quant.MinMaxRange} ('max'), {@link dev.qncd.core.quant.MseRangeSearch}
 *       ('mse', LAPQ p = 2.4), {@link dev.qncd.core.quant.PercentileRange}.</li>
 *   <li>Quantized DJL blocks {@link dev.qncd.core.quant.QuantConv2d},
 *       {@link dev.qncd.core.quant.QuantConv1d}, {@link dev.qncd.core.quant.QuantLinear} (Q-Diffusion's
 *       {@code QuantModule}, including the split-shortcut variant) switched by
 *       {@link dev.qncd.core.quant.QuantMode}, and {@link dev.qncd.core.quant.QuantAttentionMatmul} for
 *       the attention matmuls.</li>
 *   <li>Persistence: {@link dev.qncd.core.quant.QuantizerState} (JSON sidecar) plus
 *       {@code tensors(prefix)} (delta, zero_point, x_min, x_max).</li>
 * </ul>
 *
 * <p>Memory rule: temporaries are scoped in a sub-manager of the input's manager and results are
 * attached to the input's manager; the package never attaches or temp-attaches an array it did not
 * create (a caller's input stays in the caller's manager throughout): the first op on a foreign array
 * yields a fresh array that is moved into the sub-manager at once.
 */
package dev.qncd.core.quant;
