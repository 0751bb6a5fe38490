package dev.qncd.models.autoencoder;

import static dev.qncd.models.autoencoder.StageFixtures.assertClose;
import static dev.qncd.models.autoencoder.StageFixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.autoencoder.FirstStageModel.Part;
import dev.qncd.models.nn.LayerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The VQ and KL first stages against the reference modules of scripts/make_ldm_stage_fixtures.py (tiny
 * random weights inside LDM-style checkpoints); tolerance {@link StageFixtures#RTOL} of each output's
 * scale, codebook indices exactly.
 */
class FirstStageParityTest {
    private static final Set<Part> BOTH = EnumSet.allOf(Part.class);
    @TempDir Path tmp;
    private NDManager m;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    @Test
    void vqFirstStageMatchesTheReference() throws Exception {
        AutoencoderConfig cfg = AutoencoderConfig.load(fixture("tiny_vq.yaml"));
        assertEquals(AutoencoderConfig.Kind.VQ, cfg.kind());
        assertEquals(1.0, cfg.scaleFactor(), "cin256-v2 sets no scale_factor: LatentDiffusion's default 1.0");
        Map<String, NDArray> io = Npz.read(fixture("tiny_vq_io.npz"), m);
        try (FirstStageModel vq = FirstStageModel.read(fixture("tiny_vq.ckpt"), null, cfg, BOTH,
                LayerFactory.fullPrecision(), m)) {
            NDArray h = vq.encode(io.get("x"));
            assertClose(io.get("h"), h, "encode");
            // indices from the reference's own h, so that a last-bit difference in h cannot flip a near tie
            NDArray idx = vq.quantizer().indices(io.get("h"));
            assertArrayEquals(io.get("indices").toLongArray(), idx.toLongArray(), "codebook indices");
            assertClose(io.get("zq"), vq.quantizer().quantize(io.get("h")), "quantize");
            assertClose(io.get("dec"), vq.decode(io.get("h")), "decode (with codebook lookup)");
            assertClose(io.get("dec_nq"), vq.decode(io.get("h"), true), "decode, force_not_quantize");
            assertClose(io.get("latent"), vq.encodeToLatent(io.get("x"), null), "get_first_stage_encoding");
            assertClose(io.get("dec_latent"), vq.decodeLatent(io.get("z_in")), "decode_first_stage");
            assertEquals(Set.of("encoder.down.1.attn.0", "encoder.mid.attn_1", "decoder.mid.attn_1",
                    "decoder.up.1.attn.0", "decoder.up.1.attn.1"), vq.attentions().keySet());
            assertTrue(vq.layers().containsKey("decoder.up.1.upsample.conv") && vq.layers().containsKey("quant_conv"));
        }
    }

    @Test
    void klFirstStageMatchesTheReference() throws Exception {
        AutoencoderConfig cfg = AutoencoderConfig.load(fixture("tiny_kl.yaml"));
        assertEquals(AutoencoderConfig.Kind.KL, cfg.kind());
        assertEquals(0.18215, cfg.scaleFactor());
        Map<String, NDArray> io = Npz.read(fixture("tiny_kl_io.npz"), m);
        try (FirstStageModel kl = FirstStageModel.read(fixture("tiny_kl.ckpt"), null, cfg, BOTH,
                LayerFactory.fullPrecision(), m)) {
            assertClose(io.get("moments"), kl.encode(io.get("x")), "encode (moments)");
            try (DiagonalGaussian g = kl.posterior(io.get("x"))) {
                assertClose(io.get("mean"), g.mean(), "posterior mean");
                assertClose(io.get("std"), g.std(), "posterior std");
                assertClose(io.get("sample"), g.sample(io.get("noise")), "posterior sample");
            }
            assertClose(io.get("latent"), kl.encodeToLatent(io.get("x"), io.get("noise")), "get_first_stage_encoding");
            assertClose(io.get("dec"), kl.decode(io.get("sample")), "decode");
            assertClose(io.get("dec_latent"), kl.decodeLatent(io.get("z_in")), "decode_first_stage");
            assertNull(kl.quantizer());
            assertTrue(kl.layers().containsKey("encoder.down.1.block.0.nin_shortcut")
                    && kl.layers().containsKey("decoder.up.0.block.0.nin_shortcut"), "ch_mult [2, 1] changes channels");
        }
    }

    @Test
    void loadsAFirstStageCheckpointWithoutPrefixAndIgnoresItsLossWeights() throws Exception {
        AutoencoderConfig cfg = AutoencoderConfig.load(fixture("tiny_vq.yaml"));
        Map<String, NDArray> io = Npz.read(fixture("tiny_vq_io.npz"), m);
        Map<String, NDArray> ldm = Checkpoints.read(fixture("tiny_vq.ckpt"), m);
        Map<String, NDArray> own = new LinkedHashMap<>(Checkpoints.stripPrefix(ldm, FirstStageModel.LDM_PREFIX));
        own.put("loss.discriminator.main.0.weight", m.zeros(new Shape(2, 3, 4, 4)));
        own.put("loss.logvar", m.zeros(new Shape()));
        try (FirstStageModel vq = FirstStageModel.load(cfg, own, BOTH, LayerFactory.fullPrecision(), m, "vq-f2.ckpt")) {
            assertClose(io.get("dec"), vq.decode(io.get("h")), "decode from the unprefixed state dict");
        }
        own.put("decoder.up.0.block.0.extra.weight", m.zeros(new Shape(1)));
        own.remove("decoder.conv_out.bias");
        QncdException e = assertThrows(QncdException.class,
                () -> FirstStageModel.load(cfg, own, BOTH, LayerFactory.fullPrecision(), m, "vq-f2.ckpt"));
        assertTrue(e.getMessage().contains("decoder.conv_out.bias [3]") && e.getMessage().contains("missing keys")
                && e.getMessage().contains("decoder.up.0.block.0.extra.weight"), e.getMessage());
    }

    @Test
    void loadsOnlyTheAskedPart() throws Exception {
        AutoencoderConfig cfg = AutoencoderConfig.load(fixture("tiny_kl.yaml"));
        Map<String, NDArray> io = Npz.read(fixture("tiny_kl_io.npz"), m);
        try (FirstStageModel dec = FirstStageModel.read(fixture("tiny_kl.ckpt"), "state_dict", cfg,
                EnumSet.of(Part.DECODER), LayerFactory.fullPrecision(), m)) {
            assertClose(io.get("dec_latent"), dec.decodeLatent(io.get("z_in")), "decoder only");
            assertNull(dec.encoder());
            assertTrue(dec.layers().keySet().stream().noneMatch(k -> k.startsWith("encoder.") || k.equals("quant_conv")));
            QncdException e = assertThrows(QncdException.class, () -> dec.encode(io.get("x")));
            assertTrue(e.getMessage().contains("ENCODER"), e.getMessage());
            int arrays = dec.manager().getManagedArrays().size();
            try (NDManager step = m.newSubManager()) {
                NDArray z = io.get("z_in").duplicate();
                z.attach(step);
                dec.decodeLatent(z);
            }
            assertEquals(arrays, dec.manager().getManagedArrays().size(), "decoding leaves nothing in the model");
        }
    }

    @Test
    void aCheckpointWithoutFirstStageSaysWhatItHolds() throws Exception {
        AutoencoderConfig cfg = AutoencoderConfig.load(fixture("tiny_vq.yaml"));
        Map<String, NDArray> unet = new LinkedHashMap<>();
        unet.put("input_blocks.0.0.weight", m.zeros(new Shape(1)));
        QncdException e = assertThrows(QncdException.class,
                () -> FirstStageModel.load(cfg, unet, BOTH, LayerFactory.fullPrecision(), m, "unet.ckpt"));
        assertTrue(e.getMessage().contains("first_stage_model.decoder.") && e.getMessage().contains("input_blocks."),
                e.getMessage());
        // the selection finds nothing under the first-stage prefixes: the reader names what the file has
        Exception r = assertThrows(Exception.class, () -> FirstStageModel.read(fixture("tiny_kl_io.npz"), null, cfg,
                BOTH, LayerFactory.fullPrecision(), m));
        assertTrue(r.getMessage().contains("no tensor name starts with"), r.getMessage());
    }

    @Test
    void scaleByStdTakesTheFactorFromTheCheckpoint() throws Exception {
        String yaml = Files.readString(fixture("tiny_kl.yaml")).replace("scale_factor: 0.18215", "scale_by_std: true");
        Path file = Files.writeString(tmp.resolve("kl_std.yaml"), yaml);
        AutoencoderConfig cfg = AutoencoderConfig.load(file);
        assertTrue(cfg.scaleByStd());
        Map<String, NDArray> sd = new LinkedHashMap<>(Checkpoints.read(fixture("tiny_kl.ckpt"), m));
        QncdException e = assertThrows(QncdException.class,
                () -> FirstStageModel.load(cfg, sd, EnumSet.of(Part.DECODER), LayerFactory.fullPrecision(), m, "x.ckpt"));
        assertTrue(e.getMessage().contains("scale_factor"), e.getMessage());
        sd.put("scale_factor", m.create(0.25f));
        Map<String, NDArray> io = Npz.read(fixture("tiny_kl_io.npz"), m);
        try (FirstStageModel kl = FirstStageModel.load(cfg, sd, EnumSet.of(Part.DECODER), LayerFactory.fullPrecision(),
                m, "x.ckpt")) {
            assertEquals(0.25, kl.scaleFactor());
            NDArray z = io.get("z_in");
            assertClose(kl.decode(z.mul(4f)), kl.decodeLatent(z), "decode_first_stage divides by the stored factor");
        }
    }

    @Test
    void float16CheckpointsAreUsedAsFloat32() throws Exception {
        Map<String, NDArray> sd = Checkpoints.read(fixture("tiny_vq.ckpt"), m);
        assertEquals(DataType.FLOAT16, sd.get("first_stage_model.decoder.conv_in.weight").getDataType(),
                "the fixture stores float16");
        AutoencoderConfig cfg = AutoencoderConfig.load(fixture("tiny_vq.yaml"));
        try (FirstStageModel vq = FirstStageModel.load(cfg, sd, BOTH, LayerFactory.fullPrecision(), m, "tiny_vq.ckpt")) {
            assertEquals(DataType.FLOAT32, vq.layers().get("decoder.conv_in").weight().getDataType());
            assertEquals(DataType.FLOAT32, vq.quantizer().codebook().getDataType());
        }
    }
}
