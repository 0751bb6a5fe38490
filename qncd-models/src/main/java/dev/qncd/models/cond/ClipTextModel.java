package dev.qncd.models.cond;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.LayerNorm;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.ReadSelection;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CLIP text transformer as HuggingFace's {@code CLIPTextModel} computes it ({@code modeling_clip.py}),
 * returning {@code last_hidden_state}: the context Stable Diffusion v1's {@code FrozenCLIPEmbedder}
 * gives the UNet.
 *
 * <pre>
 *   x = token_embedding(ids) + position_embedding(position_ids)
 *   per layer: x = x + out_proj(attn(layer_norm1(x)))      causal, q scaled by head_dim^−½ before q·kᵀ
 *              x = x + fc2(quick_gelu(fc1(layer_norm2(x))))   quick_gelu(u) = u·σ(1.702·u)
 *   out = final_layer_norm(x)                               LayerNorm eps 1e-5
 * </pre>
 *
 * <p>Keys ({@code text_model.} relative): {@code embeddings.token_embedding.weight},
 * {@code embeddings.position_embedding.weight}, optionally the buffer {@code embeddings.position_ids}
 * (used as given, as HF does), {@code encoder.layers.i.self_attn.{q,k,v,out}_proj},
 * {@code encoder.layers.i.layer_norm{1,2}}, {@code encoder.layers.i.mlp.fc{1,2}},
 * {@code final_layer_norm}; found under {@code cond_stage_model.transformer.} in an SD v1 checkpoint or
 * as they are in a HuggingFace {@code CLIPTextModel}/{@code CLIPModel} state dict (the vision tower of
 * the latter is ignored). Every linear layer is a {@link QuantLayer} named by its key path.
 */
public final class ClipTextModel implements AutoCloseable {
    /** The key prefix of the text transformer inside a Stable Diffusion v1 checkpoint. */
    public static final String SD_PREFIX = "cond_stage_model.transformer.";
    private static final String ROOT = "text_model.";
    private static final String POSITION_IDS = ROOT + "embeddings.position_ids";

    private final ClipTextConfig config;
    private final NDManager manager;
    private final NDManager owned;
    private final NDArray tokenEmbedding;
    private final NDArray positionEmbedding;
    private final long[] positionIds;
    private final List<Layer> layers = new ArrayList<>();
    private final NDArray[] finalNorm;
    private final Map<String, QuantLayer> linears = new LinkedHashMap<>();

    private final class Layer {
        final NDArray[] norm1;
        final QuantLayer q;
        final QuantLayer k;
        final QuantLayer v;
        final QuantLayer out;
        final NDArray[] norm2;
        final QuantLayer fc1;
        final QuantLayer fc2;

        Layer(String path, ParamSource p, LayerFactory f) {
            int w = config.width();
            norm1 = layerNorm(path + "layer_norm1", p);
            q = linear(path + "self_attn.q_proj", w, w, p, f);
            k = linear(path + "self_attn.k_proj", w, w, p, f);
            v = linear(path + "self_attn.v_proj", w, w, p, f);
            out = linear(path + "self_attn.out_proj", w, w, p, f);
            norm2 = layerNorm(path + "layer_norm2", p);
            fc1 = linear(path + "mlp.fc1", w, config.intermediate(), p, f);
            fc2 = linear(path + "mlp.fc2", config.intermediate(), w, p, f);
        }
    }

    private ClipTextModel(ClipTextConfig config, Map<String, NDArray> own, LayerFactory factory, NDManager parent,
            String source, NDManager owned) {
        this.config = config;
        this.owned = owned;
        this.manager = parent.newSubManager();
        Map<String, NDArray> weights = new LinkedHashMap<>(own);
        NDArray ids = weights.remove(POSITION_IDS);
        ParamSource p = new ParamSource(weights, manager, source);
        try {
            tokenEmbedding = p.get(ROOT + "embeddings.token_embedding.weight", config.vocabSize(), config.width());
            positionEmbedding = p.get(ROOT + "embeddings.position_embedding.weight", config.maxPositions(),
                    config.width());
            for (int i = 0; i < config.layers(); i++) {
                layers.add(new Layer(ROOT + "encoder.layers." + i + ".", p, factory));
            }
            finalNorm = layerNorm(ROOT + "final_layer_norm", p);
            p.finish("CLIP text transformer (width " + config.width() + ", " + config.layers() + " layers, "
                    + config.heads() + " heads, vocab " + config.vocabSize() + ", " + config.maxPositions()
                    + " positions)");
            positionIds = positionIds(ids, config.maxPositions(), source);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static long[] positionIds(NDArray ids, int max, String source) {
        long[] out = new long[max];
        if (ids == null) {
            for (int i = 0; i < max; i++) {
                out[i] = i;
            }
            return out;
        }
        if (ids.size() != max) {
            throw new QncdException(source + ": " + POSITION_IDS + " has shape " + ids.getShape() + ", expected [1, "
                    + max + "]");
        }
        long[] v = ids.toType(DataType.INT64, false).toLongArray();
        for (long x : v) {
            if (x < 0 || x >= max) {
                throw new QncdException(source + ": " + POSITION_IDS + " holds " + x + ", outside [0, " + max + ")");
            }
        }
        return v;
    }

    private NDArray[] layerNorm(String path, ParamSource p) {
        return new NDArray[] {p.get(path + ".weight", config.width()), p.get(path + ".bias", config.width())};
    }

    private QuantLayer linear(String path, int in, int out, ParamSource p, LayerFactory f) {
        QuantLayer l = f.linear(path, p.get(path + ".weight", out, in), p.get(path + ".bias", out));
        linears.put(path, l);
        return l;
    }

    /**
     * Builds the text transformer from a state dict: an SD v1 state dict (keys under
     * {@code cond_stage_model.transformer.text_model.}) or a HuggingFace CLIP one ({@code text_model.*}).
     *
     * @param config the sizes, or null to read them off the tensors ({@link ClipTextConfig#inferFrom})
     * @param stateDict the tensors (any float type; used as float32); other keys are ignored
     * @param factory makes the linear layers
     * @param manager parent manager of the model
     * @param source the checkpoint's name, for messages
     * @return the model; the state dict's arrays stay owned by their manager
     * @throws QncdException listing every missing, mis-shaped and unexpected text-model key
     */
    public static ClipTextModel load(ClipTextConfig config, Map<String, NDArray> stateDict, LayerFactory factory,
            NDManager manager, String source) {
        Map<String, NDArray> own = textModel(stateDict, source);
        return new ClipTextModel(config == null ? ClipTextConfig.inferFrom(own) : config, own, factory, manager, source,
                null);
    }

    /**
     * Reads only the text transformer's tensors from a checkpoint (the rest of a 4 GB SD v1 file is never
     * read) and builds it; the model owns the arrays it read.
     *
     * @param checkpoint an SD v1 checkpoint or a HuggingFace CLIP text/full model file
     * @param key the state dict's dotted path inside a torch.save file, or null to detect it
     * @param config the sizes, or null to read them off the tensors
     * @param factory makes the linear layers
     * @param manager parent manager of the model
     * @return the model
     * @throws IOException when the file cannot be read
     */
    public static ClipTextModel read(Path checkpoint, String key, ClipTextConfig config, LayerFactory factory,
            NDManager manager) throws IOException {
        String source = checkpoint.getFileName().toString();
        NDManager owner = manager.newSubManager();
        try {
            Map<String, NDArray> sd = Checkpoints.read(checkpoint, owner, key,
                    ReadSelection.under(SD_PREFIX + ROOT, ROOT));
            Map<String, NDArray> own = textModel(sd, source);
            ClipTextModel model = new ClipTextModel(config == null ? ClipTextConfig.inferFrom(own) : config, own,
                    factory, owner, source, owner);
            for (NDArray a : sd.values()) {
                if (a.getDataType() != DataType.FLOAT32) {
                    a.close(); // used as float32 copies (or read off, for position_ids)
                }
            }
            return model;
        } catch (IOException | RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    private static Map<String, NDArray> textModel(Map<String, NDArray> stateDict, String source) {
        boolean sd = stateDict.keySet().stream().anyMatch(k -> k.startsWith(SD_PREFIX + ROOT));
        Map<String, NDArray> rel = sd ? Checkpoints.stripPrefix(stateDict, SD_PREFIX) : stateDict;
        Map<String, NDArray> own = new LinkedHashMap<>();
        rel.forEach((k, v) -> {
            if (k.startsWith(ROOT)) {
                own.put(k, v);
            }
        });
        if (own.isEmpty()) {
            throw new QncdException(source + " holds no CLIP text transformer: expected keys under " + SD_PREFIX + ROOT
                    + " (a Stable Diffusion v1 checkpoint) or " + ROOT + " (a HuggingFace CLIP model)");
        }
        return own;
    }

    /**
     * {@code last_hidden_state} for token ids (as {@link ClipTokenizer#encode} makes them).
     *
     * @param ids (N, L) integer token ids, L ≤ max positions
     * @return (N, L, width) float32, in the ids' manager
     */
    public NDArray forward(NDArray ids) {
        Shape s = ids.getShape();
        if (s.dimension() != 2 || s.get(1) > config.maxPositions() || s.get(1) == 0) {
            throw new QncdException("CLIP token ids must have shape (N, L) with 0 < L <= " + config.maxPositions() + ", got "
                    + s);
        }
        if (ids.getDataType().isFloating()) {
            throw new QncdException("CLIP token ids must be integers, got " + ids.getDataType());
        }
        int n = (int) s.get(0);
        int len = (int) s.get(1);
        NDManager caller = ids.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray flat = ids.toType(DataType.INT64, false).reshape(-1);
            flat.attach(sub);
            long[] v = flat.toLongArray();
            for (long id : v) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new QncdException("token id " + id + " is outside the vocabulary [0, " + config.vocabSize()
                            + "): the tokenizer does not match the text model");
                }
            }
            NDArray tok = tokenEmbedding.get(new NDIndex("{}", flat));
            tok.attach(sub);
            NDArray posIdx = sub.create(Arrays.copyOf(positionIds, len));
            NDArray pos = positionEmbedding.get(new NDIndex("{}", posIdx));
            pos.attach(sub);
            NDArray x = tok.reshape(n, len, config.width()).add(pos.reshape(1, len, config.width()));
            NDArray mask = causalMask(sub, len);
            for (Layer layer : layers) {
                x = layer(layer, x, mask, n, len);
            }
            NDArray out = norm(x, finalNorm);
            out.attach(caller);
            return out;
        }
    }

    private NDArray layer(Layer l, NDArray x, NDArray mask, int n, int len) {
        int h = config.heads();
        int d = config.headDim();
        float scale = (float) Math.pow(d, -0.5);
        NDArray hs = norm(x, l.norm1);
        NDArray q = heads(l.q.forward(hs).muli(scale), n, len, h, d);
        NDArray k = heads(l.k.forward(hs), n, len, h, d);
        NDArray v = heads(l.v.forward(hs), n, len, h, d);
        NDArray w = q.matMul(k.transpose(0, 2, 1)).reshape(n, h, len, len).add(mask).softmax(-1)
                .reshape((long) n * h, len, len);
        NDArray att = w.matMul(v).reshape(n, h, len, d).transpose(0, 2, 1, 3).reshape(n, len, config.width());
        x = x.add(l.out.forward(att));
        NDArray m = l.fc1.forward(norm(x, l.norm2));
        m = m.mul(Activation.sigmoid(m.mul(1.702f))); // quick_gelu
        return x.add(l.fc2.forward(m));
    }

    private static NDArray heads(NDArray t, int n, int len, int h, int d) {
        return t.reshape(n, len, h, d).transpose(0, 2, 1, 3).reshape((long) n * h, len, d);
    }

    private NDArray norm(NDArray x, NDArray[] gb) {
        return LayerNorm.layerNorm(x, new Shape(config.width()), gb[0], gb[1], config.layerNormEps()).singletonOrThrow();
    }

    /** The additive causal mask (1, 1, L, L): 0 where key ≤ query, the float32 minimum above (as HF). */
    private static NDArray causalMask(NDManager m, int len) {
        float[] v = new float[len * len];
        for (int i = 0; i < len; i++) {
            for (int j = i + 1; j < len; j++) {
                v[i * len + j] = -Float.MAX_VALUE;
            }
        }
        return m.create(v, new Shape(1, 1, len, len));
    }

    /** @return the config */
    public ClipTextConfig config() {
        return config;
    }

    /** @return every linear layer by key path (text_model-relative, e.g. {@code text_model.encoder.layers.0.mlp.fc1}) */
    public Map<String, QuantLayer> layers() {
        return Collections.unmodifiableMap(linears);
    }

    /** @return the manager of the model's arrays */
    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        linears.values().forEach(QuantLayer::close);
        manager.close();
        if (owned != null) {
            owned.close();
        }
    }
}
