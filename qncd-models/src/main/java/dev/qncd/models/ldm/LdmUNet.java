package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.NoiseModel;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The UNet of latent diffusion and Stable Diffusion v1: {@code UNetModel} of CompVis latent-diffusion's
 * {@code ldm/modules/diffusionmodules/openaimodel.py} (dims 2), built from its YAML config and loading
 * the original state-dict keys, with or without the {@code model.diffusion_model.} prefix they carry
 * inside an LDM / SD checkpoint ({@link #unetStateDict}):
 * <pre>
 *   time_embed.{0,2}                        emb = time_embed(timestep_embedding(t)) (+ label_emb(y))
 *   input_blocks.0.0                        3x3 conv in
 *   input_blocks.N.0 / .1                   ResBlock, then AttentionBlock or SpatialTransformer where
 *                                           the downsampling factor is in attention_resolutions
 *   input_blocks.N.0(.op)                   Downsample (stride-2 conv, or 2x2 average pooling) or a down ResBlock
 *   middle_block.{0,1,2}                    ResBlock, attention, ResBlock
 *   output_blocks.N.{0,1,2}                 ResBlock on concat(h, skip), attention, Upsample(.conv) or up ResBlock
 *   out.{0,2}                               GroupNorm32, SiLU, 3x3 conv out
 * </pre>
 * Head counts follow the reference's rules exactly (num_heads / num_head_channels, the {@code legacy}
 * head width, num_heads_upsample for the decoder's AttentionBlocks).
 *
 * <p>Every conv/linear is a {@link QuantLayer} made by the {@link LayerFactory} under its key path
 * ({@link #layers()}), every attention matmul a {@link QuantAttentionMatmul} ({@link #attentions()});
 * the decoder's ResBlocks receive concat(h, skip) and give their 1x1 {@code skip_connection} the split
 * point (h's channel count), as Q-Diffusion's split shortcut does. {@link #resBlocks()} and
 * {@link #transformerBlocks()} expose the blocks QNCD's feature smoothing and attention quantization
 * work on. {@link #forward} scopes its temporaries in a sub-manager.
 */
public final class LdmUNet implements NoiseModel, AutoCloseable {
    /** The prefix of the UNet's keys inside an LDM / Stable Diffusion checkpoint. */
    public static final String CHECKPOINT_PREFIX = "model.diffusion_model.";

    private final LdmUNetConfig config;
    private final NDManager manager;
    private final QuantLayer timeEmbed0;
    private final QuantLayer timeEmbed2;
    private final NDArray labelEmb;
    private final List<List<UNetLayer>> inputBlocks = new ArrayList<>();
    private final List<UNetLayer> middleBlock = new ArrayList<>();
    private final List<List<UNetLayer>> outputBlocks = new ArrayList<>();
    private final GroupNorm outNorm;
    private final QuantLayer outConv;
    private final Map<String, QuantLayer> layers = new LinkedHashMap<>();
    private final Map<String, QuantAttentionMatmul> attentions = new LinkedHashMap<>();
    private final List<LdmResBlock> resBlocks = new ArrayList<>();
    private final List<LdmAttentionBlock> attentionBlocks = new ArrayList<>();
    private final List<SpatialTransformer> spatialTransformers = new ArrayList<>();

    private LdmUNet(LdmUNetConfig config, Map<String, NDArray> stateDict, LayerFactory factory, NDManager parent,
            String source) {
        this.config = config;
        this.manager = parent.newSubManager();
        ParamSource params = new ParamSource(unetStateDict(stateDict), manager, source);
        LayerFactory f = registering(factory);
        int mc = config.modelChannels();
        int embDim = config.timeEmbedDim();
        try {
            timeEmbed0 = LdmLayers.linear("time_embed.0", mc, embDim, true, params, f);
            timeEmbed2 = LdmLayers.linear("time_embed.2", embDim, embDim, true, params, f);
            labelEmb = config.classConditional() ? params.get("label_emb.weight", config.numClasses(), embDim) : null;

            List<Integer> chans = new ArrayList<>();
            inputBlocks.add(List.of(conv("input_blocks.0.0", config.inChannels(), mc, params, f)));
            chans.add(mc);
            int ch = mc;
            int ds = 1;
            Heads heads = new Heads(config.numHeads());
            for (int level = 0; level < config.levels(); level++) {
                int mult = config.channelMult().get(level);
                for (int r = 0; r < config.numResBlocks(); r++) {
                    String p = "input_blocks." + inputBlocks.size();
                    List<UNetLayer> block = new ArrayList<>();
                    block.add(res(p + ".0", ch, mult * mc, LdmResBlock.Resample.NONE, 0, params, f));
                    ch = mult * mc;
                    if (config.attentionResolutions().contains(ds)) {
                        heads.update(ch);
                        block.add(attention(p + ".1", ch, heads, heads.numHeads, params, f));
                    }
                    inputBlocks.add(block);
                    chans.add(ch);
                }
                if (level != config.levels() - 1) {
                    String p = "input_blocks." + inputBlocks.size() + ".0";
                    inputBlocks.add(List.of(config.resblockUpdown()
                            ? res(p, ch, ch, LdmResBlock.Resample.DOWN, 0, params, f)
                            : downsample(p, ch, params, f)));
                    chans.add(ch);
                    ds *= 2;
                }
            }
            heads.update(ch);
            middleBlock.add(res("middle_block.0", ch, ch, LdmResBlock.Resample.NONE, 0, params, f));
            middleBlock.add(attention("middle_block.1", ch, heads, heads.numHeads, params, f));
            middleBlock.add(res("middle_block.2", ch, ch, LdmResBlock.Resample.NONE, 0, params, f));

            int headsUpsample = config.numHeadsUpsample() == -1 ? config.numHeads() : config.numHeadsUpsample();
            for (int level = config.levels() - 1; level >= 0; level--) {
                int mult = config.channelMult().get(level);
                for (int i = 0; i <= config.numResBlocks(); i++) {
                    String p = "output_blocks." + outputBlocks.size();
                    int skip = chans.remove(chans.size() - 1);
                    List<UNetLayer> block = new ArrayList<>();
                    // input concat(h, skip): the split point of the skip connection is h's channel count
                    block.add(res(p + ".0", ch + skip, mc * mult, LdmResBlock.Resample.NONE, ch, params, f));
                    ch = mc * mult;
                    if (config.attentionResolutions().contains(ds)) {
                        heads.update(ch);
                        block.add(attention(p + "." + block.size(), ch, heads, headsUpsample, params, f));
                    }
                    if (level != 0 && i == config.numResBlocks()) {
                        String q = p + "." + block.size();
                        block.add(config.resblockUpdown()
                                ? res(q, ch, ch, LdmResBlock.Resample.UP, 0, params, f)
                                : upsample(q, ch, params, f));
                        ds /= 2;
                    }
                    outputBlocks.add(block);
                }
            }
            outNorm = LdmLayers.groupNorm("out.0", ch, LdmLayers.NORMALIZATION_EPS, params);
            outConv = LdmLayers.conv2d("out.2", mc, config.outChannels(), 3, 1, 1, 0, params, f);
            params.finish("LDM UNet (model_channels " + mc + ", channel_mult " + config.channelMult()
                    + ", num_res_blocks " + config.numResBlocks() + ", attention_resolutions "
                    + config.attentionResolutions() + (config.useSpatialTransformer()
                            ? ", spatial transformer depth " + config.transformerDepth() + ", context_dim "
                                    + config.contextDim() : ", attention blocks")
                    + (config.classConditional() ? ", num_classes " + config.numClasses() : "") + ")");
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Builds the UNet of a config from a state dict with the original keys.
     *
     * @param config the UNet config
     * @param stateDict parameters by original key, with or without {@link #CHECKPOINT_PREFIX} (any float
     *     type; converted to float32); with the prefix, keys outside it (first stage, conditioning,
     *     schedule buffers, EMA copies) are ignored
     * @param factory makes the conv/linear/attention layers (e.g. {@link LayerFactory#fullPrecision()})
     * @param manager parent manager of the model's parameters
     * @param source the checkpoint's name, for error messages
     * @return the model
     * @throws QncdException listing every missing, mis-shaped and unexpected key, or for head counts that
     *     do not divide the channels
     */
    public static LdmUNet load(LdmUNetConfig config, Map<String, NDArray> stateDict, LayerFactory factory,
            NDManager manager, String source) {
        return new LdmUNet(config, stateDict, factory, manager, source);
    }

    /**
     * The UNet's part of a state dict: the keys under {@link #CHECKPOINT_PREFIX} with the prefix removed
     * when there are any (a whole LDM / SD checkpoint), else the state dict as it is (the UNet alone).
     *
     * @param stateDict a state dict
     * @return the UNet's keys (a new map, same arrays)
     */
    public static Map<String, NDArray> unetStateDict(Map<String, NDArray> stateDict) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        stateDict.forEach((k, v) -> {
            if (k.startsWith(CHECKPOINT_PREFIX)) {
                out.put(k.substring(CHECKPOINT_PREFIX.length()), v);
            }
        });
        return out.isEmpty() ? new LinkedHashMap<>(stateDict) : out;
    }

    /** The reference's running head settings: num_heads is reassigned when num_head_channels is set. */
    private final class Heads {
        int numHeads;
        int dimHead;

        Heads(int numHeads) {
            this.numHeads = numHeads;
        }

        void update(int ch) {
            if (config.numHeadChannels() == -1) {
                dimHead = ch / numHeads;
            } else {
                numHeads = ch / config.numHeadChannels();
                dimHead = config.numHeadChannels();
            }
            if (config.legacy()) {
                dimHead = config.useSpatialTransformer() ? ch / numHeads : config.numHeadChannels();
            }
        }
    }

    private UNetLayer attention(String path, int ch, Heads h, int blockHeads, ParamSource params, LayerFactory f) {
        if (config.useSpatialTransformer()) {
            if (h.numHeads <= 0 || h.dimHead <= 0) {
                throw new QncdException("invalid LDM UNet config: the spatial transformer at " + path + " would have "
                        + h.numHeads + " heads of " + h.dimHead + " channels (" + ch + " channels): check num_heads /"
                        + " num_head_channels");
            }
            SpatialTransformer st = new SpatialTransformer(path, ch, h.numHeads, h.dimHead, config.transformerDepth(),
                    config.contextDim(), params, f, manager);
            spatialTransformers.add(st);
            return st;
        }
        // AttentionBlock(ch, num_heads=blockHeads, num_head_channels=dim_head)
        int heads;
        if (h.dimHead == -1) {
            heads = blockHeads;
        } else {
            if (h.dimHead <= 0 || ch % h.dimHead != 0) {
                throw new QncdException("invalid LDM UNet config: " + ch + " channels at " + path
                        + " are not divisible by num_head_channels " + h.dimHead);
            }
            heads = ch / h.dimHead;
        }
        if (heads <= 0 || ch % heads != 0) {
            throw new QncdException("invalid LDM UNet config: " + ch + " channels at " + path + " cannot be split into "
                    + heads + " attention heads: check num_heads / num_head_channels");
        }
        LdmAttentionBlock a = new LdmAttentionBlock(path, ch, heads,
                config.useNewAttentionOrder() ? LdmAttentionBlock.QkvOrder.NEW : LdmAttentionBlock.QkvOrder.LEGACY,
                params, f, manager);
        attentionBlocks.add(a);
        return a;
    }

    private LdmResBlock res(String path, int in, int out, LdmResBlock.Resample resample, int split, ParamSource p,
            LayerFactory f) {
        LdmResBlock b = new LdmResBlock(path, in, out, config.timeEmbedDim(), config.useScaleShiftNorm(), resample,
                split, p, f);
        resBlocks.add(b);
        return b;
    }

    private static UNetLayer conv(String path, int in, int out, ParamSource p, LayerFactory f) {
        QuantLayer c = LdmLayers.conv2d(path, in, out, 3, 1, 1, 0, p, f);
        return (x, emb, ctx) -> c.forward(x);
    }

    /** Downsample: a stride-2 3x3 conv ({@code <path>.op}, padding 1) or 2x2 average pooling. */
    private UNetLayer downsample(String path, int ch, ParamSource p, LayerFactory f) {
        if (!config.convResample()) {
            return (x, emb, ctx) -> LdmLayers.avgPool(x);
        }
        QuantLayer op = LdmLayers.conv2d(path + ".op", ch, ch, 3, 2, 1, 0, p, f);
        return (x, emb, ctx) -> op.forward(x);
    }

    /** Upsample: nearest x2, then a 3x3 conv ({@code <path>.conv}) with conv_resample. */
    private UNetLayer upsample(String path, int ch, ParamSource p, LayerFactory f) {
        if (!config.convResample()) {
            return (x, emb, ctx) -> LdmLayers.upsampleNearest(x);
        }
        QuantLayer conv = LdmLayers.conv2d(path + ".conv", ch, ch, 3, 1, 1, 0, p, f);
        return (x, emb, ctx) -> conv.forward(LdmLayers.upsampleNearest(x));
    }

    private LayerFactory registering(LayerFactory f) {
        return new LayerFactory() {
            @Override
            public QuantLayer conv2d(String path, NDArray w, NDArray b, int stride, int padding, int split) {
                return register(path, f.conv2d(path, w, b, stride, padding, split));
            }

            @Override
            public QuantLayer conv1d(String path, NDArray w, NDArray b) {
                return register(path, f.conv1d(path, w, b));
            }

            @Override
            public QuantLayer linear(String path, NDArray w, NDArray b) {
                return register(path, f.linear(path, w, b));
            }

            @Override
            public QuantAttentionMatmul attention(String path, NDManager mgr) {
                return attention(path, mgr, QuantAttentionMatmul.ScalePlacement.AFTER_QK);
            }

            @Override
            public QuantAttentionMatmul attention(String path, NDManager mgr,
                    QuantAttentionMatmul.ScalePlacement placement) {
                QuantAttentionMatmul a = f.attention(path, mgr, placement);
                attentions.put(path, a);
                return a;
            }
        };
    }

    private QuantLayer register(String path, QuantLayer l) {
        layers.put(path, l);
        return l;
    }

    /**
     * Sinusoidal timestep embedding exactly as latent-diffusion's {@code timestep_embedding} (float32):
     * f_i = exp(−ln(10000)·i / (d/2)), emb = [cos(t·f), sin(t·f)], zero-padded when d is odd.
     *
     * @param t timesteps (N), any numeric type (fractional allowed)
     * @param dim embedding width d
     * @return (N, d) float32, in t's manager
     */
    public static NDArray timestepEmbedding(NDArray t, int dim) {
        int half = dim / 2;
        NDManager m = t.getManager();
        NDArray freqs = m.arange(0, half, 1, DataType.FLOAT32).mul((float) -Math.log(10000)).div((float) half).exp();
        NDArray args = t.toType(DataType.FLOAT32, false).reshape(-1, 1).mul(freqs.reshape(1, half));
        NDArray emb = args.cos().concat(args.sin(), 1);
        if (dim % 2 == 1) {
            emb = emb.concat(m.zeros(new Shape(emb.getShape().get(0), 1)), 1);
        }
        return emb;
    }

    /**
     * The conditioning vector every ResBlock receives: emb = time_embed(timestep_embedding(t)), plus
     * label_emb(y) for a class-conditional model.
     *
     * @param t timesteps (N)
     * @param y class labels (N, integer) for a class-conditional model, else null
     * @return emb (N, 4·model_channels), in t's manager
     */
    public NDArray timeEmbedding(NDArray t, NDArray y) {
        NDArray emb = timeEmbed2.forward(LdmLayers.silu(timeEmbed0.forward(timestepEmbedding(t, config.modelChannels()))));
        if (labelEmb != null) {
            NDArray rows = labelEmb.get(y.toType(DataType.INT64, false));
            rows.attach(emb.getManager());
            emb = emb.addi(rows);
        }
        return emb;
    }

    /**
     * SiLU(emb): what each ResBlock's {@code emb_layers} sees (its first member is the SiLU), e.g. to
     * compute QNCD's feature smoothing without a full pass ({@link LdmResBlock#embeddingProjection}).
     *
     * @param t timesteps (N)
     * @param y class labels (N) for a class-conditional model, else null
     * @return (N, 4·model_channels), in t's manager
     */
    public NDArray timeEmbeddingActivation(NDArray t, NDArray y) {
        return LdmLayers.silu(timeEmbedding(t, y));
    }

    /**
     * The noise prediction of a model without conditioning inputs (e.g. the LSUN models).
     *
     * @param x (N, in_channels, H, W) float32
     * @param t (N) timesteps
     * @return ε (N, out_channels, H, W), attached to x's manager
     * @throws QncdException when the model needs a context or class labels
     */
    @Override
    public NDArray forward(NDArray x, NDArray t) {
        return forward(x, t, null, null);
    }

    /**
     * The noise prediction ε(x_t, t, context, y) ({@code UNetModel.forward}).
     *
     * @param x (N, in_channels, H, W) float32, H and W divisible by 2^(levels − 1)
     * @param t (N) timesteps
     * @param context (N, L, context_dim) for a model with spatial transformers, else null
     * @param y (N) class labels in [0, num_classes) for a class-conditional model, else null
     * @return ε (N, out_channels, H, W), attached to x's manager
     * @throws QncdException for inputs of the wrong shape, a missing or superfluous context / y, or a
     *     label out of range
     */
    public NDArray forward(NDArray x, NDArray t, NDArray context, NDArray y) {
        validate(x, t, context, y);
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray out = forwardScoped(own(sub, x), own(sub, t), context == null ? null : own(sub, context),
                    y == null ? null : own(sub, y));
            out.attach(caller);
            return out;
        }
    }

    private static NDArray own(NDManager sub, NDArray a) {
        NDArray d = a.duplicate();
        d.attach(sub);
        return d;
    }

    private NDArray forwardScoped(NDArray x, NDArray t, NDArray context, NDArray y) {
        NDArray embAct = timeEmbeddingActivation(t, y);
        NDArray ctx = context == null ? null : context.toType(DataType.FLOAT32, false);
        List<NDArray> hs = new ArrayList<>();
        NDArray h = x;
        for (List<UNetLayer> block : inputBlocks) {
            h = run(block, h, embAct, ctx);
            hs.add(h);
        }
        h = run(middleBlock, h, embAct, ctx);
        for (List<UNetLayer> block : outputBlocks) {
            h = run(block, NDArrays.concat(new NDList(h, hs.remove(hs.size() - 1)), 1), embAct, ctx);
        }
        return outConv.forward(LdmLayers.silu(outNorm.forward(h)));
    }

    /**
     * Runs one TimestepEmbedSequential; each layer's temporaries live in a sub-manager closed right after
     * it, so only the layer outputs (and the skip activations) stay alive during the pass, as in eager
     * PyTorch.
     */
    private static NDArray run(List<UNetLayer> block, NDArray x, NDArray embAct, NDArray context) {
        NDManager parent = x.getManager();
        NDArray h = x;
        for (UNetLayer l : block) {
            try (NDManager layer = parent.newSubManager()) {
                h.tempAttach(layer); // ops on h now allocate in the layer's manager; h returns to parent after
                NDArray out = l.forward(h, embAct, context);
                out.attach(parent);
                h = out;
            }
        }
        return h;
    }

    private void validate(NDArray x, NDArray t, NDArray context, NDArray y) {
        Shape s = x.getShape();
        int factor = 1 << (config.levels() - 1);
        if (s.dimension() != 4 || s.get(1) != config.inChannels() || s.get(2) % factor != 0 || s.get(3) % factor != 0
                || s.get(2) == 0 || s.get(3) == 0) {
            throw new QncdException("the model expects x of shape (N, " + config.inChannels() + ", H, W) with H and W"
                    + " divisible by " + factor + ", got " + s);
        }
        long n = s.get(0);
        if (t.getShape().dimension() != 1 || t.getShape().get(0) != n) {
            throw new QncdException("t must have one timestep per sample, shape (" + n + "), got " + t.getShape());
        }
        if (config.takesContext()) {
            if (context == null) {
                throw new QncdException("this model cross-attends to a context: pass context of shape (" + n
                        + ", L, " + config.contextDim() + ")");
            }
            Shape c = context.getShape();
            if (c.dimension() != 3 || c.get(0) != n || c.get(2) != config.contextDim() || c.get(1) == 0) {
                throw new QncdException("context must have shape (" + n + ", L, " + config.contextDim() + "), got " + c);
            }
        } else if (context != null) {
            throw new QncdException("this model has no cross-attention (use_spatial_transformer is off): pass no context");
        }
        if (config.classConditional()) {
            if (y == null) {
                throw new QncdException("this model is class-conditional (num_classes " + config.numClasses()
                        + "): pass class labels y of shape (" + n + ")");
            }
            if (y.getShape().dimension() != 1 || y.getShape().get(0) != n || y.getDataType().isFloating()) {
                throw new QncdException("y must hold one integer class label per sample, shape (" + n + "), got "
                        + y.getShape() + " " + y.getDataType());
            }
            long[] labels;
            try (NDManager sub = y.getManager().newSubManager()) {
                NDArray y64 = y.toType(DataType.INT64, true);
                y64.attach(sub);
                labels = y64.toLongArray();
            }
            for (long label : labels) {
                if (label < 0 || label >= config.numClasses()) {
                    throw new QncdException("class label " + label + " is out of range: the model has "
                            + config.numClasses() + " classes (0.." + (config.numClasses() - 1) + ")");
                }
            }
        } else if (y != null) {
            throw new QncdException("this model is not class-conditional (no num_classes): pass no class labels y");
        }
    }

    /** @return the config */
    public LdmUNetConfig config() {
        return config;
    }

    /** @return every conv/linear layer by key path (without the checkpoint prefix), in construction order */
    public Map<String, QuantLayer> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /**
     * @return every attention matmul by path: {@code <block>.attention} for AttentionBlocks,
     *     {@code <block>.transformer_blocks.K.attn1|attn2} for the transformers
     */
    public Map<String, QuantAttentionMatmul> attentions() {
        return Collections.unmodifiableMap(attentions);
    }

    /** @return the ResBlocks in construction order (input, middle, output) */
    public List<LdmResBlock> resBlocks() {
        return Collections.unmodifiableList(resBlocks);
    }

    /** @return the AttentionBlocks (empty with spatial transformers) */
    public List<LdmAttentionBlock> attentionBlocks() {
        return Collections.unmodifiableList(attentionBlocks);
    }

    /** @return the SpatialTransformers (empty without) */
    public List<SpatialTransformer> spatialTransformers() {
        return Collections.unmodifiableList(spatialTransformers);
    }

    /** @return every BasicTransformerBlock, in order */
    public List<BasicTransformerBlock> transformerBlocks() {
        List<BasicTransformerBlock> out = new ArrayList<>();
        spatialTransformers.forEach(s -> out.addAll(s.transformerBlocks()));
        return Collections.unmodifiableList(out);
    }

    /** @return out.0 (the final GroupNorm) */
    public GroupNorm outNorm() {
        return outNorm;
    }

    /** @return the manager of the model's parameters */
    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        layers.values().forEach(QuantLayer::close);
        attentions.values().forEach(QuantAttentionMatmul::close);
        manager.close();
    }
}
