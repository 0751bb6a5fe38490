package dev.qncd.models.autoencoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.qncd.core.QncdException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Reading the first stage of the original configs (their first_stage_config sections, as data) and the errors. */
class AutoencoderConfigTest {
    private static final String CIN256_V2 = """
            model:
              target: ldm.models.diffusion.ddpm.LatentDiffusion
              params:
                first_stage_config:
                  target: ldm.models.autoencoder.VQModelInterface
                  params:
                    embed_dim: 3
                    n_embed: 8192
                    ddconfig:
                      double_z: false
                      z_channels: 3
                      resolution: 256
                      in_channels: 3
                      out_ch: 3
                      ch: 128
                      ch_mult:
                      - 1
                      - 2
                      - 4
                      num_res_blocks: 2
                      attn_resolutions: []
                      dropout: 0.0
                    lossconfig:
                      target: torch.nn.Identity
            """;
    private static final String SD_V1 = """
            model:
              target: ldm.models.diffusion.ddpm.LatentDiffusion
              params:
                scale_factor: 0.18215
                first_stage_config:
                  target: ldm.models.autoencoder.AutoencoderKL
                  params:
                    embed_dim: 4
                    monitor: val/rec_loss
                    ddconfig:
                      double_z: true
                      z_channels: 4
                      resolution: 256
                      in_channels: 3
                      out_ch: 3
                      ch: 128
                      ch_mult:
                      - 1
                      - 2
                      - 4
                      - 4
                      num_res_blocks: 2
                      attn_resolutions: []
                      dropout: 0.0
                    lossconfig:
                      target: torch.nn.Identity
            """;

    private static AutoencoderConfig parse(String yaml) throws Exception {
        JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
        return AutoencoderConfig.fromYaml(root);
    }

    @Test
    void readsTheLdm4AndStableDiffusionFirstStages() throws Exception {
        AutoencoderConfig vq = parse(CIN256_V2);
        assertEquals(AutoencoderConfig.Kind.VQ, vq.kind());
        assertEquals(8192, vq.nEmbed());
        assertEquals(3, vq.latentChannels());
        assertEquals(4, vq.ddconfig().downsamplingFactor(), "VQ-f4");
        assertEquals(1.0, vq.scaleFactor());
        assertFalse(vq.scaleByStd());
        AutoencoderConfig kl = parse(SD_V1);
        assertEquals(AutoencoderConfig.Kind.KL, kl.kind());
        assertEquals(0.18215, kl.scaleFactor());
        assertEquals(8, kl.ddconfig().downsamplingFactor(), "KL-f8");
        assertEquals(List.of(1, 2, 4, 4), kl.ddconfig().chMult());
        assertTrue(kl.ddconfig().resampWithConv() && "vanilla".equals(kl.ddconfig().attnType()));
    }

    @Test
    void readsAStandaloneFirstStageConfig() throws Exception {
        // the standalone layout (models/first_stage_models/*/config.yaml): model.params are the autoencoder's
        String flat = """
                model:
                  target: ldm.models.autoencoder.VQModel
                  params:
                    embed_dim: 3
                    n_embed: 8192
                    ddconfig:
                      double_z: false
                      z_channels: 3
                      resolution: 256
                      in_channels: 3
                      out_ch: 3
                      ch: 128
                      ch_mult: [1, 2, 4]
                      num_res_blocks: 2
                      attn_resolutions: []
                      dropout: 0.0
                """;
        AutoencoderConfig c = parse(flat);
        assertEquals(AutoencoderConfig.Kind.VQ, c.kind());
        assertEquals(parse(CIN256_V2).ddconfig(), c.ddconfig());
    }

    @Test
    void errorsNameTheKeyAndTheFix() {
        QncdException target = assertThrows(QncdException.class,
                () -> parse(SD_V1.replace("ldm.models.autoencoder.AutoencoderKL", "ldm.models.autoencoder.IdentityFirstStage")));
        assertTrue(target.getMessage().contains("IdentityFirstStage") && target.getMessage().contains("AutoencoderKL"),
                target.getMessage());
        QncdException doubleZ = assertThrows(QncdException.class, () -> parse(SD_V1.replace("double_z: true", "double_z: false")));
        assertTrue(doubleZ.getMessage().contains("double_z: true"), doubleZ.getMessage());
        QncdException ch = assertThrows(QncdException.class, () -> parse(SD_V1.replace("ch: 128", "ch: 100")));
        assertTrue(ch.getMessage().contains("multiple of 32"), ch.getMessage());
        QncdException linear = assertThrows(QncdException.class,
                () -> parse(SD_V1.replace("dropout: 0.0", "dropout: 0.0\n          attn_type: linear")));
        assertTrue(linear.getMessage().contains("attn_type 'linear'"), linear.getMessage());
        QncdException none = assertThrows(QncdException.class, () -> parse("other: 1\n"));
        assertTrue(none.getMessage().contains("cin256-v2.yaml"), none.getMessage());
        QncdException scale = assertThrows(QncdException.class,
                () -> parse(SD_V1.replace("scale_factor: 0.18215", "scale_factor: -1")));
        assertTrue(scale.getMessage().contains("scale_factor"), scale.getMessage());
    }
}
