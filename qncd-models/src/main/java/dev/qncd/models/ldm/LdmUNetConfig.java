package dev.qncd.models.ldm;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The hyper-parameters of latent-diffusion's openai-style UNet ({@code UNetModel} of
 * {@code ldm/modules/diffusionmodules/openaimodel.py}) exactly as its constructor takes them: the
 * {@code model.params.unet_config.params} section of an LDM / Stable Diffusion YAML (e.g.
 * {@code configs/latent-diffusion/cin256-v2.yaml}, {@code configs/stable-diffusion/v1-inference.yaml}).
 * Absent keys take the constructor's defaults; keys that only matter for training
 * ({@code use_checkpoint}, {@code dropout}) are read and ignored.
 *
 * @param imageSize the latent size the model was trained at (informational; the reference does not use it)
 * @param inChannels input channels
 * @param outChannels output channels
 * @param modelChannels base channel count
 * @param numResBlocks residual blocks per level
 * @param attentionResolutions downsampling factors (1, 2, 4...) with attention
 * @param dropout dropout (inactive at inference)
 * @param channelMult channel multiplier per level (default 1, 2, 4, 8)
 * @param convResample learned convolutions for up/downsampling (default true)
 * @param dims spatial dimensions (only 2 is supported)
 * @param numClasses class count of a class-conditional model ({@code label_emb}), or null
 * @param useCheckpoint gradient checkpointing (training only; ignored)
 * @param useFp16 half-precision torso (not supported)
 * @param numHeads attention heads, or −1 when {@code num_head_channels} sets them
 * @param numHeadChannels channels per head, or −1 when {@code num_heads} sets them
 * @param numHeadsUpsample heads of the decoder's AttentionBlocks (−1: {@code num_heads})
 * @param useScaleShiftNorm FiLM-like ResBlock conditioning: GN(h)·(1 + scale) + shift
 * @param resblockUpdown ResBlocks (instead of Downsample/Upsample) change the resolution
 * @param useNewAttentionOrder AttentionBlock splits q, k, v before heads (QKVAttention) instead of
 *     heads before q, k, v (QKVAttentionLegacy)
 * @param useSpatialTransformer SpatialTransformer (cross-attention) blocks instead of AttentionBlocks
 * @param transformerDepth BasicTransformerBlocks per SpatialTransformer
 * @param contextDim width of the cross-attention context, or null
 * @param nEmbed codebook size of the id predictor (not supported)
 * @param legacy the reference's head-width rule ({@code legacy}: default true)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record LdmUNetConfig(
        @JsonProperty("image_size") Integer imageSize,
        @JsonProperty("in_channels") int inChannels,
        @JsonProperty("out_channels") int outChannels,
        @JsonProperty("model_channels") int modelChannels,
        @JsonProperty("num_res_blocks") int numResBlocks,
        @JsonProperty("attention_resolutions") List<Integer> attentionResolutions,
        @JsonProperty("dropout") Double dropout,
        @JsonProperty("channel_mult") List<Integer> channelMult,
        @JsonProperty("conv_resample") Boolean convResample,
        @JsonProperty("dims") Integer dims,
        @JsonProperty("num_classes") Integer numClasses,
        @JsonProperty("use_checkpoint") Boolean useCheckpoint,
        @JsonProperty("use_fp16") Boolean useFp16,
        @JsonProperty("num_heads") Integer numHeads,
        @JsonProperty("num_head_channels") Integer numHeadChannels,
        @JsonProperty("num_heads_upsample") Integer numHeadsUpsample,
        @JsonProperty("use_scale_shift_norm") Boolean useScaleShiftNorm,
        @JsonProperty("resblock_updown") Boolean resblockUpdown,
        @JsonProperty("use_new_attention_order") Boolean useNewAttentionOrder,
        @JsonProperty("use_spatial_transformer") Boolean useSpatialTransformer,
        @JsonProperty("transformer_depth") Integer transformerDepth,
        @JsonProperty("context_dim") Integer contextDim,
        @JsonProperty("n_embed") Integer nEmbed,
        @JsonProperty("legacy") Boolean legacy) {

    /** The {@code target} of the UNet this class describes. */
    public static final String UNET_TARGET = "ldm.modules.diffusionmodules.openaimodel.UNetModel";

    /** Fills the constructor's defaults and validates what the model uses. */
    public LdmUNetConfig {
        attentionResolutions = attentionResolutions == null ? List.of() : List.copyOf(attentionResolutions);
        dropout = dropout == null ? 0.0 : dropout;
        channelMult = channelMult == null ? List.of(1, 2, 4, 8) : List.copyOf(channelMult);
        convResample = convResample == null || convResample;
        dims = dims == null ? 2 : dims;
        useCheckpoint = useCheckpoint != null && useCheckpoint;
        useFp16 = useFp16 != null && useFp16;
        numHeads = numHeads == null ? -1 : numHeads;
        numHeadChannels = numHeadChannels == null ? -1 : numHeadChannels;
        numHeadsUpsample = numHeadsUpsample == null ? -1 : numHeadsUpsample;
        useScaleShiftNorm = useScaleShiftNorm != null && useScaleShiftNorm;
        resblockUpdown = resblockUpdown != null && resblockUpdown;
        useNewAttentionOrder = useNewAttentionOrder != null && useNewAttentionOrder;
        useSpatialTransformer = useSpatialTransformer != null && useSpatialTransformer;
        transformerDepth = transformerDepth == null ? 1 : transformerDepth;
        legacy = legacy == null || legacy;

        require(dims == 2, "dims must be 2 (2-D latents), got " + dims);
        require(nEmbed == null, "n_embed (the codebook-id predictor) is not supported: remove it");
        require(!useFp16, "use_fp16 is not supported: the model runs in float32 (remove use_fp16)");
        require(inChannels > 0 && outChannels > 0, "in_channels and out_channels must be positive, e.g. 4");
        require(modelChannels > 0, "model_channels must be positive, e.g. 320");
        require(numResBlocks > 0, "num_res_blocks must be positive, e.g. 2");
        require(!channelMult.isEmpty() && channelMult.stream().allMatch(c -> c != null && c > 0),
                "channel_mult must list positive multipliers, e.g. [1, 2, 4, 4]");
        require(channelMult.get(0) == 1, "channel_mult must start with 1 (the output convolution takes"
                + " model_channels channels), got " + channelMult);
        for (int mult : channelMult) {
            require(modelChannels * mult % 32 == 0, "model_channels x channel_mult must be multiples of 32 (GroupNorm"
                    + " with 32 groups): " + modelChannels + " x " + mult);
        }
        require(attentionResolutions.stream().allMatch(r -> r != null && r > 0),
                "attention_resolutions must list positive downsampling factors, e.g. [4, 2, 1]");
        require(numHeads == -1 || numHeads > 0, "num_heads must be positive (or -1 with num_head_channels)");
        require(numHeadChannels == -1 || numHeadChannels > 0, "num_head_channels must be positive (or -1 with num_heads)");
        require(numHeadsUpsample == -1 || numHeadsUpsample > 0, "num_heads_upsample must be positive or -1");
        require(numHeads != -1 || numHeadChannels != -1, "set num_heads or num_head_channels");
        require(transformerDepth > 0, "transformer_depth must be positive, e.g. 1");
        require(!useSpatialTransformer || contextDim != null,
                "use_spatial_transformer needs context_dim (the width of the cross-attention conditioning)");
        require(contextDim == null || useSpatialTransformer,
                "context_dim is set but use_spatial_transformer is not: cross-attention needs the spatial transformer");
        require(contextDim == null || contextDim > 0, "context_dim must be positive, e.g. 768");
        require(numClasses == null || numClasses > 0, "num_classes must be positive, e.g. 1000");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new QncdException("invalid LDM UNet config (model.params.unet_config.params): " + message);
        }
    }

    /** @return the number of resolution levels (the length of channel_mult) */
    public int levels() {
        return channelMult.size();
    }

    /** @return the time-embedding width, 4 · model_channels */
    public int timeEmbedDim() {
        return modelChannels * 4;
    }

    /** @return whether the model takes class labels y */
    public boolean classConditional() {
        return numClasses != null;
    }

    /** @return whether the model takes a cross-attention context */
    public boolean takesContext() {
        return useSpatialTransformer;
    }

    /**
     * Reads the UNet config of an LDM / Stable Diffusion YAML.
     *
     * @param file the YAML (with {@code model.params.unet_config})
     * @return the validated UNet config
     * @throws IOException when the file cannot be read
     * @throws QncdException when it is not an LDM config of this UNet, or the UNet config is invalid
     */
    public static LdmUNetConfig load(Path file) throws IOException {
        JsonNode root = readYaml(file);
        JsonNode unet = root == null ? null : root.path("model").path("params").path("unet_config");
        if (unet == null || !unet.isObject()) {
            throw new QncdException(file + " has no model.params.unet_config: pass a latent-diffusion or Stable Diffusion"
                    + " config such as configs/stable-diffusion/v1-inference.yaml");
        }
        String target = unet.path("target").asText("");
        if (!target.equals(UNET_TARGET)) {
            throw new QncdException(file + ": model.params.unet_config.target is '" + target + "'; qncd implements "
                    + UNET_TARGET);
        }
        try {
            LdmUNetConfig c = mapper().treeToValue(unet.path("params"), LdmUNetConfig.class);
            if (c == null) {
                throw new QncdException(file + ": model.params.unet_config.params is empty");
            }
            return c;
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof QncdException q) {
                throw new QncdException(file + ": " + q.getMessage(), q);
            }
            throw new QncdException(file + ": model.params.unet_config.params is not a valid UNet config: "
                    + e.getOriginalMessage() + " (see configs/stable-diffusion/v1-inference.yaml)", e);
        } catch (IllegalArgumentException e) {
            if (e.getCause() instanceof QncdException q) {
                throw new QncdException(file + ": " + q.getMessage(), q);
            }
            throw new QncdException(file + ": model.params.unet_config.params is not a valid UNet config: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Whether a YAML is a latent-diffusion style config ({@code model.target} or
     * {@code model.params.unet_config}) rather than a DDIM one ({@code model.type}, {@code model.ch}...).
     *
     * @param file the YAML
     * @return true for an LDM / Stable Diffusion config
     * @throws IOException when the file cannot be read
     * @throws QncdException when it is not YAML
     */
    public static boolean isLdmConfig(Path file) throws IOException {
        JsonNode root = readYaml(file);
        if (root == null) {
            return false;
        }
        JsonNode model = root.path("model");
        return model.has("target") || model.path("params").has("unet_config");
    }

    private static JsonNode readYaml(Path file) throws IOException {
        try {
            return mapper().readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new QncdException(file + " is not valid YAML: " + e.getOriginalMessage(), e);
        }
    }

    private static ObjectMapper mapper() {
        return new ObjectMapper(new YAMLFactory()).configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, false)
                .configure(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES, false);
    }
}
