package dev.qncd.models.ddim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
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
 * The UNet of DDIM's {@code models/diffusion.py} (pytorch_diffusion's DDPM model), the model the QNCD
 * paper quantizes on CIFAR-10. Structure and parameter names follow the original exactly, so its state
 * dicts load as they are: {@code temb.dense.{0,1}}, {@code conv_in}, {@code down.i.block.j},
 * {@code down.i.attn.j}, {@code down.i.downsample.conv}, {@code mid.block_1}, {@code mid.attn_1},
 * {@code mid.block_2}, {@code up.i.block.j}, {@code up.i.attn.j}, {@code up.i.upsample.conv},
 * {@code norm_out}, {@code conv_out} (and {@code logvar} for the {@code bayesian} type).
 *
 * <p>Every conv/linear is a {@link QuantLayer} reachable by its key path ({@link #layers()}), every
 * attention matmul a {@link QuantAttentionMatmul} ({@link #attentions()}); in full precision they are
 * all off. {@link #forward} scopes its temporaries in a sub-manager: repeated calls do not grow native
 * memory.
 */
public final class DdimUNet implements NoiseModel, AutoCloseable {
    private final DdimConfig config;
    private final NDManager manager;
    private final int ch;
    private final int tembCh;
    private final QuantLayer tembDense0;
    private final QuantLayer tembDense1;
    private final QuantLayer convIn;
    private final List<List<ResnetBlock>> downBlocks = new ArrayList<>();
    private final List<List<AttnBlock>> downAttn = new ArrayList<>();
    private final List<QuantLayer> downsample = new ArrayList<>();
    private final ResnetBlock midBlock1;
    private final AttnBlock midAttn;
    private final ResnetBlock midBlock2;
    private final List<List<ResnetBlock>> upBlocks = new ArrayList<>();
    private final List<List<AttnBlock>> upAttn = new ArrayList<>();
    private final List<QuantLayer> upsample = new ArrayList<>();
    private final GroupNorm normOut;
    private final QuantLayer convOut;
    private final NDArray logvar;
    private final Map<String, QuantLayer> layers = new LinkedHashMap<>();
    private final Map<String, QuantAttentionMatmul> attentions = new LinkedHashMap<>();
    private final List<ResnetBlock> resnetBlocks = new ArrayList<>();

    private DdimUNet(DdimConfig config, Map<String, NDArray> stateDict, LayerFactory factory, NDManager parent,
            String source) {
        this.config = config;
        this.manager = parent.newSubManager();
        ParamSource params = new ParamSource(stateDict, manager, source);
        LayerFactory registering = registering(factory);
        DdimConfig.Model m = config.model();
        this.ch = m.ch();
        this.tembCh = ch * 4;
        int levels = m.chMult().size();
        List<Integer> attnRes = config.attnResolutions();

        tembDense0 = registering.linear("temb.dense.0", params.get("temb.dense.0.weight", tembCh, ch),
                params.get("temb.dense.0.bias", tembCh));
        tembDense1 = registering.linear("temb.dense.1", params.get("temb.dense.1.weight", tembCh, tembCh),
                params.get("temb.dense.1.bias", tembCh));
        convIn = conv("conv_in", m.inChannels(), ch, 3, 1, 1, 0, params, registering);

        int res = config.data().imageSize();
        int blockIn = ch;
        List<Integer> skipChannels = new ArrayList<>();
        skipChannels.add(ch);
        for (int i = 0; i < levels; i++) {
            List<ResnetBlock> blocks = new ArrayList<>();
            List<AttnBlock> attn = new ArrayList<>();
            int blockOut = ch * m.chMult().get(i);
            for (int j = 0; j < m.numResBlocks(); j++) {
                blocks.add(block("down." + i + ".block." + j, blockIn, blockOut, 0, params, registering));
                blockIn = blockOut;
                if (attnRes.contains(res)) {
                    attn.add(attnBlock("down." + i + ".attn." + j, blockIn, params, registering));
                }
                skipChannels.add(blockIn);
            }
            downBlocks.add(blocks);
            downAttn.add(attn);
            if (i != levels - 1) {
                downsample.add(m.resampWithConv()
                        ? conv("down." + i + ".downsample.conv", blockIn, blockIn, 3, 2, 0, 0, params, registering)
                        : null);
                res /= 2;
                skipChannels.add(blockIn);
            }
        }
        midBlock1 = block("mid.block_1", blockIn, blockIn, 0, params, registering);
        midAttn = attnBlock("mid.attn_1", blockIn, params, registering);
        midBlock2 = block("mid.block_2", blockIn, blockIn, 0, params, registering);

        for (int i = 0; i < levels; i++) {
            upBlocks.add(null);
            upAttn.add(null);
            upsample.add(null);
        }
        for (int i = levels - 1; i >= 0; i--) {
            List<ResnetBlock> blocks = new ArrayList<>();
            List<AttnBlock> attn = new ArrayList<>();
            int blockOut = ch * m.chMult().get(i);
            for (int j = 0; j <= m.numResBlocks(); j++) {
                int skip = skipChannels.remove(skipChannels.size() - 1);
                // The input is concat(h, skip): split = channels of h (Q-Diffusion's split shortcut).
                blocks.add(block("up." + i + ".block." + j, blockIn + skip, blockOut, blockIn, params, registering));
                blockIn = blockOut;
                if (attnRes.contains(res)) {
                    attn.add(attnBlock("up." + i + ".attn." + j, blockIn, params, registering));
                }
            }
            upBlocks.set(i, blocks);
            upAttn.set(i, attn);
            if (i != 0) {
                upsample.set(i, m.resampWithConv()
                        ? conv("up." + i + ".upsample.conv", blockIn, blockIn, 3, 1, 1, 0, params, registering)
                        : null);
                res *= 2;
            }
        }
        normOut = groupNorm("norm_out", blockIn, params);
        convOut = conv("conv_out", blockIn, m.outCh(), 3, 1, 1, 0, params, registering);
        logvar = config.bayesian() ? params.get("logvar", config.diffusion().numDiffusionTimesteps()) : null;
        try {
            params.finish("DDIM UNet (ch " + ch + ", ch_mult " + m.chMult() + ", num_res_blocks " + m.numResBlocks()
                    + ", attn_resolutions " + attnRes + ")");
        } catch (QncdException e) {
            close();
            throw e;
        }
    }

    /**
     * Builds the UNet of a config from a state dict with the original keys.
     *
     * @param config the model config
     * @param stateDict parameters by original key (any float type; converted to float32)
     * @param factory makes the conv/linear/attention layers (e.g. {@link LayerFactory#fullPrecision()})
     * @param manager parent manager of the model's parameters
     * @param source the checkpoint's name, for error messages
     * @return the model
     * @throws QncdException listing every missing, mis-shaped and unexpected key
     */
    public static DdimUNet load(DdimConfig config, Map<String, NDArray> stateDict, LayerFactory factory,
            NDManager manager, String source) {
        return new DdimUNet(config, stateDict, factory, manager, source);
    }

    private LayerFactory registering(LayerFactory f) {
        return new LayerFactory() {
            @Override
            public QuantLayer conv2d(String path, NDArray w, NDArray b, int stride, int padding, int split) {
                QuantLayer l = f.conv2d(path, w, b, stride, padding, split);
                layers.put(path, l);
                return l;
            }

            @Override
            public QuantLayer linear(String path, NDArray w, NDArray b) {
                QuantLayer l = f.linear(path, w, b);
                layers.put(path, l);
                return l;
            }

            @Override
            public QuantAttentionMatmul attention(String path, NDManager mgr) {
                QuantAttentionMatmul a = f.attention(path, mgr);
                attentions.put(path, a);
                return a;
            }
        };
    }

    private ResnetBlock block(String path, int in, int out, int split, ParamSource p, LayerFactory f) {
        ResnetBlock b = new ResnetBlock(path, in, out, tembCh, split, p, f);
        resnetBlocks.add(b);
        return b;
    }

    private AttnBlock attnBlock(String path, int channels, ParamSource p, LayerFactory f) {
        return new AttnBlock(path, channels, p, f, manager);
    }

    static QuantLayer conv(String path, int in, int out, int k, int stride, int pad, int split, ParamSource p,
            LayerFactory f) {
        return f.conv2d(path, p.get(path + ".weight", out, in, k, k), p.get(path + ".bias", out), stride, pad, split);
    }

    static GroupNorm groupNorm(String path, int channels, ParamSource p) {
        return new GroupNorm(32, 1e-6f, p.get(path + ".weight", channels), p.get(path + ".bias", channels));
    }

    static NDArray swish(NDArray x) {
        return ai.djl.nn.Activation.sigmoid(x).muli(x);
    }

    /**
     * Sinusoidal timestep embedding exactly as DDIM's {@code get_timestep_embedding} (float32):
     * f_i = exp(−i · ln(10000)/(d/2 − 1)), emb = [sin(t·f), cos(t·f)], zero-padded when d is odd.
     *
     * @param t timesteps (N), any numeric type
     * @param dim embedding width d
     * @return (N, d) float32, in t's manager
     */
    public static NDArray timestepEmbedding(NDArray t, int dim) {
        int half = dim / 2;
        double step = Math.log(10000) / (half - 1);
        NDManager m = t.getManager();
        NDArray freqs = m.arange(half).toType(DataType.FLOAT32, false).mul((float) -step).exp();
        NDArray args = t.toType(DataType.FLOAT32, false).reshape(-1, 1).mul(freqs.reshape(1, half));
        NDArray emb = args.sin().concat(args.cos(), 1);
        if (dim % 2 == 1) {
            emb = emb.concat(m.zeros(new Shape(emb.getShape().get(0), 1)), 1);
        }
        return emb;
    }

    /**
     * The noise prediction ε(x_t, t).
     *
     * @param x (N, in_channels, H, W) float32
     * @param t (N) timesteps
     * @return ε (N, out_ch, H, W), attached to x's manager
     */
    @Override
    public NDArray forward(NDArray x, NDArray t) {
        int size = config.data().imageSize();
        if (x.getShape().dimension() != 4 || x.getShape().get(2) != size || x.getShape().get(3) != size
                || x.getShape().get(1) != config.model().inChannels()) {
            throw new QncdException("the model expects x of shape (N, " + config.model().inChannels() + ", " + size
                    + ", " + size + "), got " + x.getShape());
        }
        if (t.getShape().dimension() != 1 || t.getShape().get(0) != x.getShape().get(0)) {
            throw new QncdException("t must have one timestep per sample, shape (" + x.getShape().get(0) + "), got "
                    + t.getShape());
        }
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray xs = x.duplicate();
            xs.attach(sub);
            NDArray ts = t.duplicate();
            ts.attach(sub);
            NDArray out = forwardScoped(xs, ts);
            out.attach(caller);
            return out;
        }
    }

    private NDArray forwardScoped(NDArray x, NDArray t) {
        NDArray temb = timestepEmbedding(t, ch);
        temb = tembDense1.forward(swish(tembDense0.forward(temb)));
        NDArray tembAct = swish(temb);
        int levels = downBlocks.size();
        List<NDArray> hs = new ArrayList<>();
        hs.add(convIn.forward(x));
        for (int i = 0; i < levels; i++) {
            for (int j = 0; j < downBlocks.get(i).size(); j++) {
                NDArray h = downBlocks.get(i).get(j).forward(hs.get(hs.size() - 1), tembAct);
                if (!downAttn.get(i).isEmpty()) {
                    h = downAttn.get(i).get(j).forward(h);
                }
                hs.add(h);
            }
            if (i != levels - 1) {
                hs.add(downsample(i, hs.get(hs.size() - 1)));
            }
        }
        NDArray h = hs.get(hs.size() - 1);
        h = midBlock1.forward(h, tembAct);
        h = midAttn.forward(h);
        h = midBlock2.forward(h, tembAct);
        for (int i = levels - 1; i >= 0; i--) {
            for (int j = 0; j < upBlocks.get(i).size(); j++) {
                NDArray skip = hs.remove(hs.size() - 1);
                h = upBlocks.get(i).get(j).forward(NDArrays.concat(new NDList(h, skip), 1), tembAct);
                if (!upAttn.get(i).isEmpty()) {
                    h = upAttn.get(i).get(j).forward(h);
                }
            }
            if (i != 0) {
                h = upsample(i, h);
            }
        }
        h = swish(normOut.forward(h));
        return convOut.forward(h);
    }

    private NDArray downsample(int level, NDArray x) {
        QuantLayer conv = downsample.get(level);
        if (conv == null) {
            return Pool.avgPool2d(x, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false, true);
        }
        // No asymmetric padding in conv: pad right and bottom by one, then a stride-2 conv without padding.
        return conv.forward(x.pad(new Shape(0, 1, 0, 1), 0));
    }

    private NDArray upsample(int level, NDArray x) {
        NDArray up = x.repeat(2, 2).repeat(3, 2); // nearest-neighbour x2
        QuantLayer conv = upsample.get(level);
        return conv == null ? up : conv.forward(up);
    }

    /** @return the config */
    public DdimConfig config() {
        return config;
    }

    /** @return every conv/linear layer by key path, in construction order */
    public Map<String, QuantLayer> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** @return every attention matmul by block path */
    public Map<String, QuantAttentionMatmul> attentions() {
        return Collections.unmodifiableMap(attentions);
    }

    /** @return the residual blocks in construction order (down, mid, up) */
    public List<ResnetBlock> resnetBlocks() {
        return Collections.unmodifiableList(resnetBlocks);
    }

    /** @return DDIM's {@code logvar} parameter of the bayesian type, or null */
    public NDArray logvar() {
        return logvar;
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
