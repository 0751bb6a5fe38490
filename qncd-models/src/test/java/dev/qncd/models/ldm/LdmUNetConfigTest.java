package dev.qncd.models.ldm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qncd.core.QncdException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The original YAMLs read as the reference's UNetModel constructor would take them; bad ones are refused clearly. */
class LdmUNetConfigTest {
    static final Path CONFIGS = Path.of("../configs");

    @TempDir Path tmp;

    @Test
    void theReferenceConfigsRead() throws Exception {
        LdmUNetConfig cin = LdmUNetConfig.load(CONFIGS.resolve("latent-diffusion/cin256-v2.yaml"));
        assertEquals(List.of(1, 2, 3, 5), cin.channelMult());
        assertEquals(192, cin.modelChannels());
        assertEquals(List.of(8, 4, 2), cin.attentionResolutions());
        assertTrue(cin.useSpatialTransformer() && cin.legacy() && cin.convResample());
        assertEquals(512, cin.contextDim());
        assertEquals(1, cin.numHeads());
        assertEquals(-1, cin.numHeadChannels());
        assertNull(cin.numClasses()); // the class enters as a cross-attention context (ClassEmbedder)

        LdmUNetConfig sd = LdmUNetConfig.load(CONFIGS.resolve("stable-diffusion/v1-inference.yaml"));
        assertEquals(320, sd.modelChannels());
        assertEquals(List.of(1, 2, 4, 4), sd.channelMult());
        assertEquals(768, sd.contextDim());
        assertEquals(8, sd.numHeads());
        assertFalse(sd.legacy());
        assertEquals(1280, sd.timeEmbedDim());

        LdmUNetConfig churches = LdmUNetConfig.load(CONFIGS.resolve("latent-diffusion/lsun_churches-ldm-kl-8.yaml"));
        assertTrue(churches.useScaleShiftNorm() && churches.resblockUpdown() && !churches.takesContext());
        assertEquals(5, churches.levels());

        LdmUNetConfig bedrooms = LdmUNetConfig.load(CONFIGS.resolve("latent-diffusion/lsun_bedrooms-ldm-vq-4.yaml"));
        assertEquals(32, bedrooms.numHeadChannels());
        assertEquals(-1, bedrooms.numHeads());
        assertEquals(224, bedrooms.modelChannels());

        for (String f : List.of("latent-diffusion/cin256-v2.yaml", "stable-diffusion/v1-inference.yaml")) {
            assertTrue(LdmUNetConfig.isLdmConfig(CONFIGS.resolve(f)), f);
        }
        assertFalse(LdmUNetConfig.isLdmConfig(CONFIGS.resolve("cifar10.yml")));
    }

    @Test
    void badConfigsNameTheKeyAndTheFix() throws Exception {
        assertTrue(error("cifar10", null).contains("has no model.params.unet_config"));
        assertTrue(error("    unet_config:\n      target: some.Other\n      params: {}\n", null)
                .contains("unet_config.target is 'some.Other'; qncd implements ldm.modules.diffusionmodules.openaimodel.UNetModel"));
        String base = "in_channels: 4, out_channels: 4, model_channels: 32, num_res_blocks: 1, attention_resolutions: [1]";
        assertTrue(error(null, base + ", num_heads: 2, use_spatial_transformer: true")
                .contains("use_spatial_transformer needs context_dim"));
        assertTrue(error(null, base + ", num_heads: 2, context_dim: 8").contains("context_dim is set but use_spatial_transformer is not"));
        assertTrue(error(null, base).contains("set num_heads or num_head_channels"));
        assertTrue(error(null, base + ", num_heads: 2, channel_mult: [1, 3], model_channels: 48")
                .contains("multiples of 32 (GroupNorm with 32 groups)"));
        assertTrue(error(null, base + ", num_heads: 2, dims: 3").contains("dims must be 2"));
        assertTrue(error(null, base + ", num_heads: 2, context_dim: [8, 8], use_spatial_transformer: true")
                .contains("not a valid UNet config"));
        assertTrue(error(null, "in_channels: 4, model_channels: 32, num_res_blocks: 1, num_heads: 2")
                .contains("in_channels and out_channels must be positive"));
        Path bad = tmp.resolve("bad.yaml");
        Files.writeString(bad, "model: [unclosed");
        assertTrue(assertThrows(QncdException.class, () -> LdmUNetConfig.load(bad)).getMessage().contains("not valid YAML"));
    }

    /** Loads a config made of a raw model.params block or of UNet params, returning the error message. */
    private String error(String modelParams, String unetParams) throws Exception {
        String text;
        if ("cifar10".equals(modelParams)) {
            return assertThrows(QncdException.class, () -> LdmUNetConfig.load(CONFIGS.resolve("cifar10.yml"))).getMessage();
        } else if (modelParams != null) {
            text = "model:\n  params:\n" + modelParams;
        } else {
            text = "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n    unet_config:\n      target: "
                    + LdmUNetConfig.UNET_TARGET + "\n      params: {" + unetParams + "}\n";
        }
        Path f = Files.createTempFile(tmp, "cfg", ".yaml");
        Files.writeString(f, text);
        return assertThrows(QncdException.class, () -> LdmUNetConfig.load(f)).getMessage();
    }
}
