package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * The openai UNet's {@code ResBlock} (latent-diffusion openaimodel.py), keys under its path:
 * <pre>
 *   h = in_layers.2(SiLU(in_layers.0(x)))                       in_layers.0: GroupNorm32, in_layers.2: 3x3 conv
 *   e = emb_layers.1(SiLU(emb))                                  (N, C) or, with scale-shift norm, (N, 2C)
 *   additive:     h = SiLU(out_layers.0(h + e))
 *   scale-shift:  [scale, shift] = e;  h = SiLU(out_layers.0(h)·(1 + scale) + shift)
 *   out = skip_connection(x) + out_layers.3(h)                   skip: identity, or a 1x1 conv when C changes
 * </pre>
 * An up/down block ({@code resblock_updown}) resamples both paths after SiLU(in_layers.0(x)): nearest
 * x2 (up) or 2x2 average pooling (down) of h before in_layers.2 and of x before the skip. Dropout
 * ({@code out_layers.2}) is the identity at inference.
 *
 * <p>QNCD's embedding-derived feature smoothing (QNCD quant/quant_block.py {@code QuantResBlock}: the
 * division {@code h = h / self.scale_mean} before {@code out_rest}, and {@code set_conv_weight}) hooks in
 * between SiLU and out_layers.3: with a factor S set ({@link #foldSmoothing} or {@link #setSmoothing})
 * the block divides that activation by S. The reference records the normalised embedding from
 * {@code emb_out} (additive) or {@code out_layers[0](scale)} (scale-shift): {@link #embeddingProjection}
 * gives e, {@link #outNorm()} the GroupNorm, {@link #useScaleShiftNorm()} which variant applies.
 */
public final class LdmResBlock implements UNetLayer {
    /** What the block does to the resolution. */
    public enum Resample {
        /** keeps H, W */
        NONE,
        /** halves H, W (2x2 average pooling) */
        DOWN,
        /** doubles H, W (nearest) */
        UP
    }

    private final String path;
    private final int inChannels;
    private final int outChannels;
    private final boolean scaleShift;
    private final Resample resample;
    private final GroupNorm inNorm;
    private final QuantLayer inConv;
    private final QuantLayer embLayer;
    private final GroupNorm outNorm;
    private final QuantLayer outConv;
    private final QuantLayer skip;
    private final int split;
    /** S as (1, C, 1, 1), in the weight's manager; null without smoothing. */
    private NDArray smoothing;

    /**
     * @param path key path, e.g. {@code input_blocks.1.0}
     * @param in input channels
     * @param out output channels
     * @param embChannels time-embedding width
     * @param scaleShift use_scale_shift_norm
     * @param resample up, down or neither
     * @param split channels of h in a decoder block's input concat(h, skip) (Q-Diffusion passes it to the
     *     skip connection only), else 0
     * @param params parameter source
     * @param layers layer factory
     */
    LdmResBlock(String path, int in, int out, int embChannels, boolean scaleShift, Resample resample, int split,
            ParamSource params, LayerFactory layers) {
        this.path = path;
        this.inChannels = in;
        this.outChannels = out;
        this.scaleShift = scaleShift;
        this.resample = resample;
        this.split = split;
        this.inNorm = LdmLayers.groupNorm(path + ".in_layers.0", in, LdmLayers.NORMALIZATION_EPS, params);
        this.inConv = LdmLayers.conv2d(path + ".in_layers.2", in, out, 3, 1, 1, 0, params, layers);
        this.embLayer = LdmLayers.linear(path + ".emb_layers.1", embChannels, scaleShift ? 2 * out : out, true, params,
                layers);
        this.outNorm = LdmLayers.groupNorm(path + ".out_layers.0", out, LdmLayers.NORMALIZATION_EPS, params);
        this.outConv = LdmLayers.conv2d(path + ".out_layers.3", out, out, 3, 1, 1, 0, params, layers);
        this.skip = in == out ? null
                : LdmLayers.conv2d(path + ".skip_connection", in, out, 1, 1, 0, split, params, layers);
    }

    @Override
    public NDArray forward(NDArray x, NDArray embAct, NDArray context) {
        return forward(x, embAct);
    }

    /**
     * @param x (N, in, H, W)
     * @param embAct SiLU(emb), (N, embChannels)
     * @return (N, out, H', W'), in x's manager
     */
    public NDArray forward(NDArray x, NDArray embAct) {
        NDArray h;
        NDArray xs = x;
        if (resample == Resample.NONE) {
            h = inConv.forward(LdmLayers.silu(inNorm.forward(x)));
        } else {
            h = resample(LdmLayers.silu(inNorm.forward(x)));
            xs = resample(x);
            h = inConv.forward(h);
        }
        NDArray e = embeddingProjection(embAct).expandDims(-1).expandDims(-1);
        if (scaleShift) {
            NDList parts = e.split(2, 1);
            NDArray scale = parts.get(0);
            NDArray shift = parts.get(1);
            h = outNorm.forward(h).muli(scale.add(1f)).addi(shift);
        } else {
            h = outNorm.forward(h.addi(e));
        }
        h = LdmLayers.silu(h);
        if (smoothing != null) {
            h = h.divi(smoothing); // QuantResBlock.forward: h = h / self.scale_mean before out_rest
        }
        h = outConv.forward(h);
        NDArray s = skip == null ? xs : skip.forward(xs);
        return h.addi(s);
    }

    private NDArray resample(NDArray x) {
        return resample == Resample.UP ? LdmLayers.upsampleNearest(x) : LdmLayers.avgPool(x);
    }

    /**
     * The embedding projection e = emb_layers.1(SiLU(emb)) (the reference's {@code emb_out} before its
     * trailing singleton axes); with scale-shift norm its first half is the scale, the second the shift.
     *
     * @param embAct SiLU(emb), (N, embChannels)
     * @return e (N, C) or (N, 2C), in embAct's manager
     */
    public NDArray embeddingProjection(NDArray embAct) {
        return embLayer.forward(embAct);
    }

    /**
     * Folds a smoothing factor into out_layers.3 (QNCD's {@code set_conv_weight}: the weight times S
     * along its input channels) and makes {@link #forward} divide that conv's input by S, so the block's
     * full-precision output is unchanged. Call before the conv's weight quantizer is calibrated; once.
     *
     * @param s S, C values (any shape of C elements; copied)
     * @throws QncdException when S has the wrong size or a zero or non-finite value, smoothing is already
     *     set, or the conv is frozen
     */
    public void foldSmoothing(NDArray s) {
        if (outConv.isFrozen()) {
            throw new QncdException("block '" + path + "': out_layers.3 is already frozen; fold the smoothing factor"
                    + " before calibrating its weight quantizer");
        }
        setSmoothing(s);
        NDArray w = outConv.weight();
        try (NDManager sub = w.getManager().newSubManager()) {
            NDArray sw = smoothing.toDevice(w.getDevice(), true);
            sw.attach(sub);
            w.muli(sw); // (O, C, 3, 3) * (1, C, 1, 1): along input channels
        }
    }

    /**
     * Sets the smoothing factor of a block whose out_layers.3 weight already holds it (a quantized
     * checkpoint stores the folded weight): {@link #forward} divides the conv's input by S.
     *
     * @param s S, C values (copied)
     * @throws QncdException when S has the wrong size or a zero or non-finite value, or is already set
     */
    public void setSmoothing(NDArray s) {
        if (smoothing != null) {
            throw new QncdException("block '" + path + "' already has a smoothing factor: fold it only once");
        }
        if (s.size() != outChannels) {
            throw new QncdException("smoothing factor of block '" + path + "' has " + s.size() + " values, the block has "
                    + outChannels + " channels");
        }
        float[] v = s.toType(DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i]) || v[i] == 0f) {
                throw new QncdException("smoothing factor of block '" + path + "' has the value " + v[i] + " at channel "
                        + i + ": every factor must be finite and non-zero");
            }
        }
        NDArray w = outConv.weight();
        smoothing = w.getManager().create(v, new Shape(1, outChannels, 1, 1)).toDevice(w.getDevice(), false);
    }

    /** @return S as (1, C, 1, 1) (QNCD's {@code scale_mean}), or null when the block is not smoothed */
    public NDArray smoothing() {
        return smoothing;
    }

    /** @return the key path, e.g. {@code output_blocks.3.0} */
    public String path() {
        return path;
    }

    /** @return input channels */
    public int inChannels() {
        return inChannels;
    }

    /** @return output channels C (of out_layers.0, out_layers.3 and S) */
    public int outChannels() {
        return outChannels;
    }

    /** @return whether the block uses scale-shift norm (FiLM) instead of the additive embedding */
    public boolean useScaleShiftNorm() {
        return scaleShift;
    }

    /** @return what the block does to the resolution */
    public Resample resampling() {
        return resample;
    }

    /** @return the split channel count given to the skip connection (decoder blocks), else 0 */
    public int split() {
        return split;
    }

    /** @return in_layers.0 */
    public GroupNorm inNorm() {
        return inNorm;
    }

    /** @return in_layers.2 */
    public QuantLayer inConv() {
        return inConv;
    }

    /** @return emb_layers.1 */
    public QuantLayer embLayer() {
        return embLayer;
    }

    /** @return out_layers.0 (the GroupNorm that sees the embedding) */
    public GroupNorm outNorm() {
        return outNorm;
    }

    /** @return out_layers.3 (the conv the smoothing folds into) */
    public QuantLayer outConv() {
        return outConv;
    }

    /** @return the 1x1 skip connection, or null for the identity */
    public QuantLayer skipConnection() {
        return skip;
    }
}
