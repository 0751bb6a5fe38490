package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.ReadSelection;
import dev.qncd.core.quant.QuantAttentionMatmul;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A latent-diffusion first stage: the VQ autoencoder ({@code VQModelInterface}) or the KL autoencoder
 * ({@code AutoencoderKL}) of CompVis {@code ldm/models/autoencoder.py}, with the latent scaling of
 * {@code LatentDiffusion} ({@code get_first_stage_encoding}, {@code decode_first_stage}).
 *
 * <p>Keys, relative to the autoencoder: {@code encoder.*} and {@code quant_conv.*} ({@link Part#ENCODER}),
 * {@code decoder.*}, {@code post_quant_conv.*} and for VQ {@code quantize.embedding.weight}
 * ({@link Part#DECODER}). They are found under {@code first_stage_model.} in a full LDM/SD checkpoint or
 * without prefix in a first-stage checkpoint (whose {@code loss.*} training weights are ignored). Only
 * the parts asked for are built and read. Every conv is a {@link QuantLayer} named by its key path
 * ({@link #layers()}); every method scopes its temporaries in a sub-manager.
 */
public final class FirstStageModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FirstStageModel.class);

    /** The key prefix of the first stage inside a latent-diffusion checkpoint. */
    public static final String LDM_PREFIX = "first_stage_model.";

    /** The buffer holding the estimated scale factor of {@code scale_by_std} models. */
    public static final String SCALE_FACTOR_KEY = "scale_factor";

    /** The halves of an autoencoder that can be loaded separately. */
    public enum Part {
        /** {@code encoder} and {@code quant_conv}: images to latents. */
        ENCODER("encoder.", "quant_conv."),
        /** {@code quantize} (VQ), {@code post_quant_conv} and {@code decoder}: latents to images. */
        DECODER("decoder.", "post_quant_conv.", "quantize.");

        private final List<String> prefixes;

        Part(String... prefixes) {
            this.prefixes = List.of(prefixes);
        }

        /** @return the key prefixes of this part, relative to the autoencoder */
        public List<String> prefixes() {
            return prefixes;
        }
    }

    private final AutoencoderConfig config;
    private final NDManager manager;
    private final NDManager owned;
    private final Set<Part> parts;
    private final double scaleFactor;
    private final float invScale;
    private final Encoder encoder;
    private final QuantLayer quantConv;
    private final VectorQuantizer quantizer;
    private final QuantLayer postQuantConv;
    private final Decoder decoder;
    private final Map<String, QuantLayer> layers = new LinkedHashMap<>();
    private final Map<String, QuantAttentionMatmul> attentions = new LinkedHashMap<>();

    private FirstStageModel(AutoencoderConfig config, Map<String, NDArray> own, Set<Part> parts, Float storedScale,
            LayerFactory factory, NDManager parent, String source, NDManager owned) {
        this.config = config;
        this.parts = Collections.unmodifiableSet(EnumSet.copyOf(parts));
        this.owned = owned;
        if (config.scaleByStd()) {
            if (storedScale == null) {
                throw new QncdException(source + " has no '" + SCALE_FACTOR_KEY + "' buffer, which a scale_by_std"
                        + " model stores: pass the full latent-diffusion checkpoint, not only its first stage");
            }
            this.scaleFactor = storedScale;
            this.invScale = 1f / storedScale; // 1. / tensor: a float32 division, as the reference
        } else {
            this.scaleFactor = config.scaleFactor();
            this.invScale = (float) (1.0 / config.scaleFactor()); // 1. / python float, then cast on multiply
        }
        this.manager = parent.newSubManager();
        ParamSource p = new ParamSource(own, manager, source);
        LayerFactory f = registering(factory);
        AutoencoderConfig.DdConfig dd = config.ddconfig();
        int z = dd.zChannels();
        int e = config.embedDim();
        boolean kl = config.kind() == AutoencoderConfig.Kind.KL;
        try {
            if (parts.contains(Part.ENCODER)) {
                encoder = new Encoder("encoder.", dd, p, f, manager);
                quantConv = Layers.conv("quant_conv", kl ? 2 * z : z, kl ? 2 * e : e, 1, 1, 0, p, f);
            } else {
                encoder = null;
                quantConv = null;
            }
            if (parts.contains(Part.DECODER)) {
                quantizer = kl ? null : new VectorQuantizer(p.get("quantize.embedding.weight", config.nEmbed(), e));
                postQuantConv = Layers.conv("post_quant_conv", e, z, 1, 1, 0, p, f);
                decoder = new Decoder("decoder.", dd, p, f, manager);
            } else {
                quantizer = null;
                postQuantConv = null;
                decoder = null;
            }
            p.finish(config.target() + " first stage " + parts + " (ch " + dd.ch() + ", ch_mult " + dd.chMult()
                    + ", num_res_blocks " + dd.numResBlocks() + ", z_channels " + z + ", embed_dim " + e
                    + (kl ? "" : ", n_embed " + config.nEmbed()) + ")");
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /**
     * Builds the asked parts from a state dict: a full LDM/SD state dict (keys under
     * {@code first_stage_model.}, everything else ignored) or an autoencoder's own (keys without prefix;
     * {@code loss.*} ignored).
     *
     * @param config the first-stage config
     * @param stateDict parameters by original key (any float type; used as float32)
     * @param parts the parts to build
     * @param factory makes the conv layers (e.g. {@link LayerFactory#fullPrecision()})
     * @param manager parent manager of the model's own arrays
     * @param source the checkpoint's name, for messages
     * @return the model; the state dict's arrays stay owned by their manager
     * @throws QncdException listing every missing, mis-shaped and unexpected key of the asked parts
     */
    public static FirstStageModel load(AutoencoderConfig config, Map<String, NDArray> stateDict, Set<Part> parts,
            LayerFactory factory, NDManager manager, String source) {
        if (parts.isEmpty()) {
            throw new QncdException("load at least one first-stage part (ENCODER, DECODER)");
        }
        Float stored = storedScale(stateDict);
        return new FirstStageModel(config, own(stateDict, parts, source), parts, stored, factory, manager, source,
                null);
    }

    private static Float storedScale(Map<String, NDArray> stateDict) {
        NDArray s = stateDict.get(SCALE_FACTOR_KEY);
        if (s == null || s.size() != 1) {
            return null;
        }
        try (NDArray f = s.toType(DataType.FLOAT32, true)) {
            return f.getFloat();
        }
    }

    /**
     * Reads only the asked parts of a checkpoint (the storages of the UNet, the conditioning model and
     * the other part are never read: a 4 GB SD v1 file costs the memory of its first stage) and builds
     * them. The model owns the arrays it read.
     *
     * @param checkpoint an LDM/SD checkpoint or a first-stage checkpoint (torch.save or safetensors)
     * @param key the dotted path of the state dict inside a torch.save file, or null to detect it
     * @param config the first-stage config
     * @param parts the parts to build
     * @param factory makes the conv layers
     * @param manager parent manager of the model
     * @return the model
     * @throws IOException when the file cannot be read
     * @throws QncdException when the file holds no fitting first stage
     */
    public static FirstStageModel read(Path checkpoint, String key, AutoencoderConfig config, Set<Part> parts,
            LayerFactory factory, NDManager manager) throws IOException {
        List<String> prefixes = new ArrayList<>();
        for (Part part : parts) {
            for (String p : part.prefixes()) {
                prefixes.add(LDM_PREFIX + p);
                prefixes.add(p);
            }
        }
        if (config.scaleByStd()) {
            prefixes.add(SCALE_FACTOR_KEY);
        }
        String source = checkpoint.getFileName().toString();
        // The read arrays become the model's parameters: they live in a manager the model owns.
        NDManager owner = manager.newSubManager();
        try {
            Map<String, NDArray> sd = Checkpoints.read(checkpoint, owner, key, new ReadSelection(prefixes, null));
            FirstStageModel model = new FirstStageModel(config, own(sd, parts, source), parts, storedScale(sd),
                    factory, owner, source, owner);
            for (NDArray a : sd.values()) {
                if (a.getDataType() != DataType.FLOAT32) {
                    a.close(); // used as float32 copies
                }
            }
            return model;
        } catch (IOException | RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    /** The asked parts' entries, keyed relative to the autoencoder. */
    private static Map<String, NDArray> own(Map<String, NDArray> stateDict, Set<Part> parts, String source) {
        boolean prefixed = stateDict.keySet().stream().anyMatch(k -> k.startsWith(LDM_PREFIX));
        Map<String, NDArray> relative = prefixed ? Checkpoints.stripPrefix(stateDict, LDM_PREFIX) : stateDict;
        Map<String, NDArray> out = new LinkedHashMap<>();
        Set<String> ignored = new TreeSet<>();
        List<String> foreign = new ArrayList<>();
        for (Map.Entry<String, NDArray> en : relative.entrySet()) {
            String k = en.getKey();
            Part owner = null;
            for (Part part : Part.values()) {
                for (String p : part.prefixes()) {
                    if (k.startsWith(p)) {
                        owner = part;
                    }
                }
            }
            if (owner != null && parts.contains(owner)) {
                out.put(k, en.getValue());
            } else if (owner == null && !prefixed && !k.equals(SCALE_FACTOR_KEY)) {
                int dot = k.indexOf('.');
                (k.startsWith("loss.") ? ignored : foreign).add(dot < 0 ? k : k.substring(0, dot + 1));
            }
        }
        if (!ignored.isEmpty()) {
            LOG.info("{}: ignoring the first stage's training weights {}", source, ignored);
        }
        if (out.isEmpty()) {
            List<String> heads = new ArrayList<>(new TreeSet<>(foreign));
            throw new QncdException(source + " holds no first-stage weights for " + parts + ": expected keys under "
                    + LDM_PREFIX + "decoder. / " + LDM_PREFIX + "encoder. (an LDM or Stable Diffusion checkpoint) or"
                    + " decoder. / encoder. (a first-stage checkpoint)"
                    + (heads.isEmpty() ? "" : "; its keys start with " + (heads.size() > 12 ? heads.subList(0, 12) + " ..." : heads)));
        }
        return out;
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

    private void require(Part part, String what) {
        if (!parts.contains(part)) {
            throw new QncdException(what + " needs the " + part + " of the first stage, but only " + parts
                    + " was loaded: load it with that part");
        }
    }

    /**
     * {@code encode}: quant_conv(encoder(x)). For VQ ({@code VQModelInterface.encode}) these are the
     * pre-quantization latents; for KL the posterior's moments (N, 2·embed_dim, h, w).
     *
     * @param x images (N, in_channels, H, W) in [−1, 1]
     * @return the encoding, in x's manager
     */
    public NDArray encode(NDArray x) {
        require(Part.ENCODER, "encode");
        return scoped(x, xs -> quantConv.forward(encoder.forward(xs)));
    }

    /**
     * @param x images (N, in_channels, H, W)
     * @return the KL posterior; its arrays live in x's manager
     */
    public DiagonalGaussian posterior(NDArray x) {
        if (config.kind() != AutoencoderConfig.Kind.KL) {
            throw new QncdException("a VQ first stage has no Gaussian posterior: use encode(x)");
        }
        NDArray moments = encode(x);
        DiagonalGaussian g = new DiagonalGaussian(moments);
        moments.close();
        return g;
    }

    /**
     * The diffusion latent of images, {@code LatentDiffusion.get_first_stage_encoding(encode_first_stage(x))}:
     * scale_factor · (mean + std·noise) for KL, scale_factor · encode(x) for VQ.
     *
     * @param x images (N, in_channels, H, W)
     * @param noise the posterior noise ε (N, embed_dim, h, w) for KL; ignored (may be null) for VQ
     * @return the latent, in x's manager
     */
    public NDArray encodeToLatent(NDArray x, NDArray noise) {
        if (config.kind() == AutoencoderConfig.Kind.VQ) {
            NDArray h = encode(x);
            return h.muli((float) scaleFactor);
        }
        if (noise == null) {
            throw new QncdException("a KL first stage samples its posterior: pass the noise");
        }
        try (DiagonalGaussian g = posterior(x)) {
            return g.sample(noise).muli((float) scaleFactor);
        }
    }

    /**
     * {@code decode}: for VQ ({@code VQModelInterface.decode}) the codebook lookup, then post_quant_conv
     * and the decoder; for KL post_quant_conv and the decoder.
     *
     * @param z latents (N, embed_dim, h, w), unscaled
     * @return images (N, out_ch, h·f, w·f), in z's manager
     */
    public NDArray decode(NDArray z) {
        return decode(z, false);
    }

    /**
     * @param z latents (N, embed_dim, h, w), unscaled
     * @param forceNotQuantize VQ only: skip the codebook lookup (the reference's {@code force_not_quantize})
     * @return images, in z's manager
     */
    public NDArray decode(NDArray z, boolean forceNotQuantize) {
        require(Part.DECODER, "decode");
        long e = config.embedDim();
        if (z.getShape().dimension() != 4 || z.getShape().get(1) != e) {
            throw new QncdException("the first stage decodes latents of shape (N, " + e + ", h, w), got " + z.getShape());
        }
        return scoped(z, zs -> {
            NDArray q = quantizer == null || forceNotQuantize ? zs : quantizer.quantize(zs);
            return decoder.forward(postQuantConv.forward(q));
        });
    }

    /**
     * {@code LatentDiffusion.decode_first_stage}: decode(z / scale_factor) (the reference multiplies by
     * 1/scale_factor).
     *
     * @param latent the diffusion model's latent (N, embed_dim, h, w)
     * @return images in about [−1, 1], in the latent's manager
     */
    public NDArray decodeLatent(NDArray latent) {
        return scoped(latent, zs -> decode(zs.mul(invScale)));
    }

    private NDArray scoped(NDArray x, java.util.function.Function<NDArray, NDArray> body) {
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray xs = x.duplicate();
            xs.attach(sub);
            NDArray out = body.apply(xs);
            out.attach(caller);
            return out;
        }
    }

    /** @return the config */
    public AutoencoderConfig config() {
        return config;
    }

    /** @return the loaded parts */
    public Set<Part> parts() {
        return parts;
    }

    /** @return the latent scale factor in use (the config's, or the checkpoint's for scale_by_std) */
    public double scaleFactor() {
        return scaleFactor;
    }

    /** @return the encoder, or null when not loaded */
    public Encoder encoder() {
        return encoder;
    }

    /** @return the decoder, or null when not loaded */
    public Decoder decoder() {
        return decoder;
    }

    /** @return the VQ codebook, or null (KL, or decoder not loaded) */
    public VectorQuantizer quantizer() {
        return quantizer;
    }

    /** @return every conv layer by key path relative to the autoencoder, in construction order */
    public Map<String, QuantLayer> layers() {
        return Collections.unmodifiableMap(layers);
    }

    /** @return every attention matmul by block path */
    public Map<String, QuantAttentionMatmul> attentions() {
        return Collections.unmodifiableMap(attentions);
    }

    /** @return the manager of the model's arrays */
    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        layers.values().forEach(QuantLayer::close);
        attentions.values().forEach(QuantAttentionMatmul::close);
        manager.close();
        if (owned != null) {
            owned.close();
        }
    }
}
