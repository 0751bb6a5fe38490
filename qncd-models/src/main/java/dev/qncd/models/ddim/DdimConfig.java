package dev.qncd.models.ddim;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The DDIM / pytorch_diffusion model config, read from the original YAML (e.g. DDIM's
 * {@code configs/cifar10.yml}): sections {@code data}, {@code model}, {@code diffusion} and
 * {@code sampling}. Keys the model does not use (training, optim...) are ignored; the ones it uses are
 * validated with errors that name the key and the fix.
 *
 * @param data image size and channels
 * @param model UNet hyper-parameters
 * @param diffusion noise schedule
 * @param sampling sampling defaults (batch size)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record DdimConfig(Data data, Model model, Diffusion diffusion, Sampling sampling) {

    /**
     * @param imageSize H = W
     * @param channels image channels
     * @param rescaled whether images live in [−1, 1] (true for the published models)
     * @param dataset dataset name (informational)
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Data(@JsonProperty("image_size") int imageSize, @JsonProperty("channels") int channels,
            @JsonProperty("rescaled") Boolean rescaled, @JsonProperty("dataset") String dataset) {}

    /**
     * @param type {@code simple} or {@code bayesian} (which adds a {@code logvar} parameter)
     * @param inChannels input channels
     * @param outCh output channels
     * @param ch base channels
     * @param chMult channel multiplier per resolution
     * @param numResBlocks residual blocks per resolution
     * @param attnResolutions resolutions with self-attention
     * @param dropout dropout (inactive when sampling)
     * @param varType {@code fixedlarge} or {@code fixedsmall}
     * @param resampWithConv convolutional (true) or pooling/plain resampling
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Model(@JsonProperty("type") String type, @JsonProperty("in_channels") int inChannels,
            @JsonProperty("out_ch") int outCh, @JsonProperty("ch") int ch,
            @JsonProperty("ch_mult") List<Integer> chMult, @JsonProperty("num_res_blocks") int numResBlocks,
            @JsonProperty("attn_resolutions") List<Integer> attnResolutions, @JsonProperty("dropout") double dropout,
            @JsonProperty("var_type") String varType, @JsonProperty("resamp_with_conv") boolean resampWithConv) {}

    /**
     * @param betaSchedule linear, quad, const, jsd, sigmoid or cosine
     * @param betaStart first beta
     * @param betaEnd last beta
     * @param numDiffusionTimesteps T
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Diffusion(@JsonProperty("beta_schedule") String betaSchedule,
            @JsonProperty("beta_start") double betaStart, @JsonProperty("beta_end") double betaEnd,
            @JsonProperty("num_diffusion_timesteps") int numDiffusionTimesteps) {}

    /** @param batchSize default sampling batch size */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Sampling(@JsonProperty("batch_size") Integer batchSize) {}

    /** Validates what the model uses. */
    public DdimConfig {
        if (data == null || model == null || diffusion == null) {
            throw new QncdException("DDIM config needs the sections data, model and diffusion (see configs/cifar10.yml)");
        }
        require(data.imageSize() > 0, "data.image_size must be positive, e.g. 32");
        require(data.channels() > 0, "data.channels must be positive, e.g. 3");
        require(model.ch() > 0 && model.ch() % 32 == 0,
                "model.ch must be a positive multiple of 32 (GroupNorm uses 32 groups), got " + model.ch());
        require(model.chMult() != null && !model.chMult().isEmpty(), "model.ch_mult must list the channel multipliers, e.g. [1, 2, 2, 2]");
        require(model.numResBlocks() > 0, "model.num_res_blocks must be positive, e.g. 2");
        require(model.inChannels() > 0 && model.outCh() > 0, "model.in_channels and model.out_ch must be positive");
        int res = data.imageSize();
        for (int i = 0; i < model.chMult().size() - 1; i++) {
            require(res % 2 == 0, "data.image_size " + data.imageSize() + " cannot be halved " + (model.chMult().size() - 1)
                    + " times (ch_mult has " + model.chMult().size() + " levels): use a size divisible by "
                    + (1 << (model.chMult().size() - 1)));
            res /= 2;
        }
        require(diffusion.numDiffusionTimesteps() > 0, "diffusion.num_diffusion_timesteps must be positive, e.g. 1000");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new QncdException("invalid DDIM config: " + message);
        }
    }

    /** @return attention resolutions (empty when absent) */
    public List<Integer> attnResolutions() {
        return model.attnResolutions() == null ? List.of() : model.attnResolutions();
    }

    /** @return whether the model has the {@code logvar} parameter of DDIM's {@code bayesian} type */
    public boolean bayesian() {
        return "bayesian".equals(model.type());
    }

    /**
     * Reads a config YAML.
     *
     * @param file the YAML file
     * @return the validated config
     * @throws IOException when the file cannot be read
     * @throws QncdException when it is not a valid DDIM config
     */
    public static DdimConfig load(Path file) throws IOException {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory())
                .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, false);
        try {
            DdimConfig c = yaml.readValue(file.toFile(), DdimConfig.class);
            if (c == null) {
                throw new QncdException(file + " is empty: pass a DDIM config such as configs/cifar10.yml");
            }
            return c;
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof QncdException q) {
                throw new QncdException(file + ": " + q.getMessage(), q);
            }
            throw new QncdException(file + " is not a valid DDIM config: " + e.getOriginalMessage()
                    + " (see configs/cifar10.yml for the expected keys)", e);
        }
    }
}
