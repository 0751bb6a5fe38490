package dev.qncd.models.autoencoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A first-stage autoencoder as the original YAML configures it: the {@code first_stage_config} of a
 * latent-diffusion config ({@code configs/latent-diffusion/cin256-v2.yaml},
 * {@code configs/stable-diffusion/v1-inference.yaml}) together with its {@code scale_factor}, or a
 * standalone first-stage config ({@code models/first_stage_models/vq-f4/config.yaml},
 * {@code configs/autoencoder/*.yaml}) whose {@code model.target} is the autoencoder itself.
 *
 * @param kind VQ ({@code VQModelInterface}/{@code VQModel}) or KL ({@code AutoencoderKL})
 * @param target the original class name, for messages
 * @param embedDim {@code embed_dim}: latent channels (the codebook vectors' width for VQ)
 * @param nEmbed {@code n_embed}: codebook size (VQ), 0 for KL
 * @param ddconfig the encoder/decoder hyper-parameters
 * @param scaleFactor {@code model.params.scale_factor} of the LDM config (1.0 when absent, as
 *     {@code LatentDiffusion}); latents are {@code scale_factor · z}
 * @param scaleByStd {@code scale_by_std}: the scale factor was estimated in training and is stored in
 *     the checkpoint as the buffer {@code scale_factor}, which then replaces {@link #scaleFactor}
 */
public record AutoencoderConfig(Kind kind, String target, int embedDim, int nEmbed, DdConfig ddconfig,
        double scaleFactor, boolean scaleByStd) {

    /** The two autoencoder families of latent diffusion. */
    public enum Kind {
        /** Vector-quantised ({@code VQModelInterface}): codebook lookup before decoding. */
        VQ,
        /** KL-regularised ({@code AutoencoderKL}): a diagonal Gaussian posterior. */
        KL
    }

    /**
     * The {@code ddconfig} shared by {@code Encoder} and {@code Decoder}.
     *
     * @param doubleZ the encoder outputs mean and log-variance (2·z_channels)
     * @param zChannels latent channels of the encoder/decoder
     * @param resolution the training resolution; decides where attention sits ({@code attn_resolutions})
     * @param inChannels image channels in
     * @param outCh image channels out
     * @param ch base channels
     * @param chMult channel multiplier per level
     * @param numResBlocks residual blocks per level (the decoder has one more)
     * @param attnResolutions resolutions with self-attention (in units of {@code resolution})
     * @param dropout dropout (inactive at inference)
     * @param resampWithConv convolutional up/downsampling (default true)
     * @param givePreEnd the decoder stops before its output norm/conv
     * @param tanhOut the decoder ends with tanh
     * @param attnType {@code vanilla} or {@code none}
     */
    public record DdConfig(boolean doubleZ, int zChannels, int resolution, int inChannels, int outCh, int ch,
            List<Integer> chMult, int numResBlocks, List<Integer> attnResolutions, double dropout,
            boolean resampWithConv, boolean givePreEnd, boolean tanhOut, String attnType) {

        /** Validates. */
        public DdConfig {
            chMult = List.copyOf(chMult);
            attnResolutions = List.copyOf(attnResolutions);
            require(ch > 0 && ch % 32 == 0, "ddconfig.ch must be a positive multiple of 32 (GroupNorm uses 32 groups),"
                    + " got " + ch);
            require(!chMult.isEmpty(), "ddconfig.ch_mult must list the channel multipliers, e.g. [1, 2, 4]");
            for (int m : chMult) {
                require(m > 0, "ddconfig.ch_mult entries must be positive, got " + chMult);
            }
            require(numResBlocks > 0, "ddconfig.num_res_blocks must be positive, e.g. 2");
            require(zChannels > 0, "ddconfig.z_channels must be positive, e.g. 3 (VQ-f4) or 4 (KL-f8)");
            require(inChannels > 0 && outCh > 0, "ddconfig.in_channels and ddconfig.out_ch must be positive, e.g. 3");
            require(resolution > 0, "ddconfig.resolution must be positive, e.g. 256");
            require("vanilla".equals(attnType) || "none".equals(attnType), "ddconfig attn_type '" + attnType
                    + "' is not supported: use vanilla (every released LDM/SD first stage) or none");
        }

        /** @return the number of resolution levels */
        public int levels() {
            return chMult.size();
        }

        /** @return the spatial down-sampling factor f = 2^(levels − 1) */
        public int downsamplingFactor() {
            return 1 << (chMult.size() - 1);
        }
    }

    /** Validates. */
    public AutoencoderConfig {
        require(kind != null, "the first stage kind (VQ or KL) is missing");
        require(ddconfig != null, "first_stage_config.params.ddconfig is missing");
        require(embedDim > 0, "first_stage_config.params.embed_dim must be positive, e.g. 3 (VQ-f4) or 4 (KL-f8)");
        if (kind == Kind.VQ) {
            require(nEmbed > 0, "first_stage_config.params.n_embed (the codebook size, e.g. 8192) must be positive");
            require(!ddconfig.doubleZ(), "a VQ first stage needs ddconfig.double_z: false (quant_conv takes z_channels)");
        } else {
            require(ddconfig.doubleZ(), "AutoencoderKL needs ddconfig.double_z: true (the encoder outputs mean and"
                    + " log-variance)");
        }
        require(scaleFactor > 0 && Double.isFinite(scaleFactor),
                "model.params.scale_factor must be a positive number, e.g. 0.18215, got " + scaleFactor);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new QncdException("invalid first-stage config: " + message);
        }
    }

    /**
     * Reads the first stage of a latent-diffusion config, or a standalone autoencoder config.
     *
     * @param file the YAML file
     * @return the validated config
     * @throws IOException when the file cannot be read
     * @throws QncdException when it configures no supported first stage
     */
    public static AutoencoderConfig load(Path file) throws IOException {
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
        try {
            return fromYaml(root);
        } catch (QncdException e) {
            throw new QncdException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * @param root a parsed YAML config (the whole file)
     * @return the validated config
     * @throws QncdException when it configures no supported first stage
     */
    public static AutoencoderConfig fromYaml(JsonNode root) {
        JsonNode model = root == null ? null : root.get("model");
        if (model == null || !model.isObject()) {
            throw new QncdException("no 'model' section: pass an original latent-diffusion config such as"
                    + " configs/latent-diffusion/cin256-v2.yaml or configs/stable-diffusion/v1-inference.yaml");
        }
        JsonNode params = model.path("params");
        JsonNode stage;
        double scale = 1.0;
        boolean byStd = false;
        if (params.has("first_stage_config")) {
            stage = params.get("first_stage_config");
            if (params.has("scale_factor")) {
                scale = number(params.get("scale_factor"), "model.params.scale_factor");
            }
            byStd = params.path("scale_by_std").asBoolean(false);
        } else {
            stage = model;
        }
        String target = stage.path("target").asText("");
        Kind kind = switch (target) {
            case "ldm.models.autoencoder.VQModelInterface", "ldm.models.autoencoder.VQModel",
                    "taming.models.vqgan.VQModel" -> Kind.VQ;
            case "ldm.models.autoencoder.AutoencoderKL" -> Kind.KL;
            default -> throw new QncdException("first stage target '" + target + "' is not supported: qncd loads"
                    + " ldm.models.autoencoder.VQModelInterface / VQModel and AutoencoderKL (an LDM config names it"
                    + " under model.params.first_stage_config.target)");
        };
        JsonNode p = stage.path("params");
        JsonNode dd = p.path("ddconfig");
        if (!dd.isObject()) {
            throw new QncdException("first_stage_config.params.ddconfig is missing");
        }
        String attnType = dd.path("attn_type").asText("vanilla");
        if (dd.path("use_linear_attn").asBoolean(false)) {
            attnType = "linear";
        }
        DdConfig d = new DdConfig(dd.path("double_z").asBoolean(true), integer(dd, "z_channels"),
                integer(dd, "resolution"), integer(dd, "in_channels"), integer(dd, "out_ch"), integer(dd, "ch"),
                ints(dd.get("ch_mult"), "ddconfig.ch_mult", List.of(1, 2, 4, 8)), integer(dd, "num_res_blocks"),
                ints(dd.get("attn_resolutions"), "ddconfig.attn_resolutions", List.of()),
                dd.path("dropout").asDouble(0.0), dd.path("resamp_with_conv").asBoolean(true),
                dd.path("give_pre_end").asBoolean(false), dd.path("tanh_out").asBoolean(false), attnType);
        int embedDim = p.has("embed_dim") ? p.get("embed_dim").asInt() : 0;
        int nEmbed = kind == Kind.VQ ? p.path("n_embed").asInt(0) : 0;
        return new AutoencoderConfig(kind, target, embedDim, nEmbed, d, scale, byStd);
    }

    private static int integer(JsonNode dd, String key) {
        JsonNode v = dd.get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new QncdException("ddconfig." + key + " must be an integer");
        }
        return v.asInt();
    }

    private static double number(JsonNode v, String key) {
        if (!v.isNumber() && !(v.isTextual() && v.asText().matches("[-+0-9.eE]+"))) {
            throw new QncdException(key + " must be a number, got " + v);
        }
        return v.asDouble();
    }

    private static List<Integer> ints(JsonNode v, String key, List<Integer> dflt) {
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isArray()) {
            throw new QncdException(key + " must be a list of integers, got " + v);
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.canConvertToInt()) {
                throw new QncdException(key + " must be a list of integers, got " + v);
            }
            out.add(e.asInt());
        }
        return out;
    }

    /** @return the channels of the latent the diffusion model sees ({@code embed_dim}) */
    public int latentChannels() {
        return embedDim;
    }
}
