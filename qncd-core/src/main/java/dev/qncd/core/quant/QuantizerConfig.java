package dev.qncd.core.quant;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.qncd.core.QncdException;
import java.util.Objects;

/**
 * Immutable configuration of one uniform affine quantizer (Q-Diffusion's {@code UniformAffineQuantizer}
 * keyword arguments {@code n_bits, symmetric, channel_wise, scale_method, always_zero} plus the running
 * statistics switch and momentum of {@code act_momentum_update}).
 *
 * <p>Integer levels (the clamp bounds of q(x) = (clamp(round(x/Δ) + z, lo, hi) − z)·Δ):
 * <ul>
 *   <li>asymmetric (default): lo = 0, hi = 2^b − 1, z = round(−min/Δ);</li>
 *   <li>{@code symmetric}: lo = −2^(b−1), hi = 2^(b−1) − 1, z = 0, Δ = max|x| / (2^(b−1) − 1) — the
 *       reference clamps to {@code [-n_levels-1, n_levels]} with {@code n_levels = 2^(b-1)-1}
 *       (q-diffusion qdiff/quant_layer.py lines 54, 85), i.e. one more negative level than DESIGN.md's
 *       narrow signed form; Δ and z agree with DESIGN.md;</li>
 *   <li>{@code alwaysZero} (unsigned, softmax outputs): lo = 0, hi = 2^b − 1, z = 0.</li>
 * </ul>
 *
 * <p>JSON: every field may be omitted and takes the default of {@link #activation(int)}'s fields
 * (bits 8, asymmetric, per tensor, MSE, percentile 0.9999, no running statistics, momentum 0.95).
 *
 * @param bits bit width b, 2..16
 * @param symmetric signed levels with zero point 0
 * @param channelWise one (Δ, z) per index of {@code channelAxis}; per tensor when false
 * @param channelAxis the channel axis (negative counts from the end); ignored when not channel-wise
 * @param alwaysZero unsigned levels 0..2^b − 1 with zero point 0 (attention probabilities)
 * @param rangeMethod how the range is chosen at {@code calibrate}
 * @param percentile upper quantile for {@link RangeMethod#PERCENTILE}, in (0.5, 1]
 * @param runningStat whether {@code observe(x)} may refine the range by an EMA of batch min/max
 * @param momentum EMA momentum m: x_min ← m·x_min + (1 − m)·batch_min, in [0, 1)
 */
public record QuantizerConfig(
        int bits,
        boolean symmetric,
        boolean channelWise,
        int channelAxis,
        boolean alwaysZero,
        RangeMethod rangeMethod,
        double percentile,
        boolean runningStat,
        double momentum) {

    /** Default EMA momentum of the reference's {@code act_momentum_update} ({@code act_range_momentum}). */
    public static final double DEFAULT_MOMENTUM = 0.95;
    /** Default upper quantile of {@link RangeMethod#PERCENTILE}. */
    public static final double DEFAULT_PERCENTILE = 0.9999;

    /** 8-bit weights, per output channel, min-max (the LDM / Stable Diffusion scripts' {@code wq_params}). */
    public static final QuantizerConfig W8 = weight(8);
    /** 4-bit weights, per output channel, min-max (AdaRound starts from this). */
    public static final QuantizerConfig W4 = weight(4);
    /** 8-bit activations, per tensor, MSE range search (the scripts' {@code aq_params}). */
    public static final QuantizerConfig A8 = activation(8);
    /** 6-bit activations, per tensor, MSE range search. */
    public static final QuantizerConfig A6 = activation(6);
    /** 16-bit unsigned softmax-output quantizer (the paper's {@code sm_abit = 16}). */
    public static final QuantizerConfig SOFTMAX_16 = softmax(16);

    /** Validates every field; each error names the field and the fix. */
    public QuantizerConfig {
        if (bits < 2 || bits > 16) {
            throw new QncdException("quantizer bits must be in 2..16, got " + bits
                    + ": set bits to e.g. 8 (W8/A8), 4 (W4) or 16 (softmax)");
        }
        Objects.requireNonNull(rangeMethod, "rangeMethod");
        if (symmetric && alwaysZero) {
            throw new QncdException("quantizer cannot be both symmetric and alwaysZero (unsigned): set "
                    + "symmetric=false for unsigned softmax outputs, or alwaysZero=false for signed levels");
        }
        if (!(percentile > 0.5 && percentile <= 1.0)) {
            throw new QncdException("quantizer percentile must be in (0.5, 1], got " + percentile
                    + ": use e.g. 0.9999 (the upper quantile; the lower one is 1 - percentile)");
        }
        if (!(momentum >= 0.0 && momentum < 1.0)) {
            throw new QncdException("quantizer momentum must be in [0, 1), got " + momentum
                    + ": use 0.95 (the reference's act_range_momentum)");
        }
        if (!channelWise) {
            channelAxis = 0;
        }
    }

    /**
     * JSON factory: missing fields take their defaults, then the canonical constructor validates.
     *
     * @return the config
     */
    @JsonCreator
    public static QuantizerConfig fromJson(
            @JsonProperty("bits") Integer bits,
            @JsonProperty("symmetric") Boolean symmetric,
            @JsonProperty("channelWise") Boolean channelWise,
            @JsonProperty("channelAxis") Integer channelAxis,
            @JsonProperty("alwaysZero") Boolean alwaysZero,
            @JsonProperty("rangeMethod") RangeMethod rangeMethod,
            @JsonProperty("percentile") Double percentile,
            @JsonProperty("runningStat") Boolean runningStat,
            @JsonProperty("momentum") Double momentum) {
        return new QuantizerConfig(
                bits == null ? 8 : bits,
                symmetric != null && symmetric,
                channelWise != null && channelWise,
                channelAxis == null ? 0 : channelAxis,
                alwaysZero != null && alwaysZero,
                rangeMethod == null ? RangeMethod.MSE : rangeMethod,
                percentile == null ? DEFAULT_PERCENTILE : percentile,
                runningStat != null && runningStat,
                momentum == null ? DEFAULT_MOMENTUM : momentum);
    }

    /**
     * Weight preset: asymmetric, per output channel (axis 0), min-max — the reference scripts'
     * {@code wq_params = {'n_bits': b, 'channel_wise': True, 'scale_method': 'max'}} (txt2img.py,
     * sample_diffusion_ldm.py).
     *
     * @param bits bit width
     * @return the config
     */
    public static QuantizerConfig weight(int bits) {
        return new QuantizerConfig(bits, false, true, 0, false, RangeMethod.MIN_MAX,
                DEFAULT_PERCENTILE, false, DEFAULT_MOMENTUM);
    }

    /**
     * Symmetric weight preset (the DDIM CIFAR-10 script's {@code 'symmetric': True}): per output channel,
     * Δ = max|w| / (2^(b−1) − 1), z = 0.
     *
     * @param bits bit width
     * @return the config
     */
    public static QuantizerConfig weightSymmetric(int bits) {
        return weight(bits).withSymmetric(true);
    }

    /**
     * Activation preset: asymmetric, per tensor, MSE search (the scripts' {@code aq_params}).
     *
     * @param bits bit width
     * @return the config
     */
    public static QuantizerConfig activation(int bits) {
        return new QuantizerConfig(bits, false, false, 0, false, RangeMethod.MSE,
                DEFAULT_PERCENTILE, false, DEFAULT_MOMENTUM);
    }

    /**
     * Softmax-output preset: the activation preset with {@code always_zero} (unsigned levels 0..2^b − 1,
     * z = 0), as the reference's {@code act_quantizer_w} built from the activation parameters with
     * {@code n_bits = sm_abit} (quant_block.py QuantSMVMatMul / QuantBasicTransformerBlock).
     *
     * @param bits {@code sm_abit}
     * @return the config
     */
    public static QuantizerConfig softmax(int bits) {
        return new QuantizerConfig(bits, false, false, 0, true, RangeMethod.MSE,
                DEFAULT_PERCENTILE, false, DEFAULT_MOMENTUM);
    }

    /**
     * @param b bit width
     * @return a copy with {@code bits = b}
     */
    public QuantizerConfig withBits(int b) {
        return new QuantizerConfig(b, symmetric, channelWise, channelAxis, alwaysZero, rangeMethod,
                percentile, runningStat, momentum);
    }

    /**
     * @param s symmetric
     * @return a copy with {@code symmetric = s}
     */
    public QuantizerConfig withSymmetric(boolean s) {
        return new QuantizerConfig(bits, s, channelWise, channelAxis, alwaysZero, rangeMethod,
                percentile, runningStat, momentum);
    }

    /**
     * @param z always-zero
     * @return a copy with {@code alwaysZero = z}
     */
    public QuantizerConfig withAlwaysZero(boolean z) {
        return new QuantizerConfig(bits, symmetric, channelWise, channelAxis, z, rangeMethod,
                percentile, runningStat, momentum);
    }

    /**
     * @param axis channel axis
     * @return a per-channel copy along {@code axis}
     */
    public QuantizerConfig withChannelAxis(int axis) {
        return new QuantizerConfig(bits, symmetric, true, axis, alwaysZero, rangeMethod,
                percentile, runningStat, momentum);
    }

    /** @return a per-tensor copy */
    public QuantizerConfig perTensor() {
        return new QuantizerConfig(bits, symmetric, false, 0, alwaysZero, rangeMethod,
                percentile, runningStat, momentum);
    }

    /**
     * @param m range method
     * @return a copy with {@code rangeMethod = m}
     */
    public QuantizerConfig withRangeMethod(RangeMethod m) {
        return new QuantizerConfig(bits, symmetric, channelWise, channelAxis, alwaysZero, m,
                percentile, runningStat, momentum);
    }

    /**
     * @param p upper quantile
     * @return a PERCENTILE copy with {@code percentile = p}
     */
    public QuantizerConfig withPercentile(double p) {
        return new QuantizerConfig(bits, symmetric, channelWise, channelAxis, alwaysZero,
                RangeMethod.PERCENTILE, p, runningStat, momentum);
    }

    /**
     * @param on running statistics
     * @return a copy with {@code runningStat = on}
     */
    public QuantizerConfig withRunningStat(boolean on) {
        return new QuantizerConfig(bits, symmetric, channelWise, channelAxis, alwaysZero, rangeMethod,
                percentile, on, momentum);
    }

    /**
     * @param m EMA momentum
     * @return a copy with {@code momentum = m}
     */
    public QuantizerConfig withMomentum(double m) {
        return new QuantizerConfig(bits, symmetric, channelWise, channelAxis, alwaysZero, rangeMethod,
                percentile, runningStat, m);
    }

    /** @return the lowest integer level lo: −2^(b−1) if symmetric, else 0 */
    public long levelMin() {
        return symmetric ? -(1L << (bits - 1)) : 0L;
    }

    /** @return the highest integer level hi: 2^(b−1) − 1 if symmetric, else 2^b − 1 */
    public long levelMax() {
        return symmetric ? (1L << (bits - 1)) - 1 : (1L << bits) - 1;
    }
}
