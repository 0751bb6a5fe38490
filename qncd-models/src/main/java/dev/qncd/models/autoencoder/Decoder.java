package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.QncdException;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;
import java.util.ArrayList;
import java.util.List;

/**
 * The autoencoder's {@code Decoder}: {@code conv_in} from z_channels; {@code mid.block_1},
 * {@code mid.attn_1}, {@code mid.block_2}; per level from the lowest resolution up
 * {@code up.i.block.j} (num_res_blocks + 1 ResnetBlocks, no skip connections), {@code up.i.attn.j} where
 * the resolution is in {@code attn_resolutions}, {@code up.i.upsample.conv} (nearest x2 then a 3x3 conv)
 * except at level 0; {@code norm_out}, swish, {@code conv_out} (tanh with {@code tanh_out}; everything
 * after the last level skipped with {@code give_pre_end}). Keys are relative to the {@code decoder.}
 * prefix given at construction.
 */
public final class Decoder {
    private final AutoencoderConfig.DdConfig dd;
    private final QuantLayer convIn;
    private final ResnetBlock mid1;
    private final AttnBlock midAttn;
    private final ResnetBlock mid2;
    private final List<List<ResnetBlock>> blocks = new ArrayList<>();
    private final List<List<AttnBlock>> attn = new ArrayList<>();
    private final List<QuantLayer> upsample = new ArrayList<>();
    private final GroupNorm normOut;
    private final QuantLayer convOut;

    Decoder(String prefix, AutoencoderConfig.DdConfig dd, ParamSource p, LayerFactory f, NDManager manager) {
        this.dd = dd;
        int levels = dd.levels();
        int blockIn = dd.ch() * dd.chMult().get(levels - 1);
        int res = dd.resolution() >> (levels - 1);
        boolean anyAttn = !"none".equals(dd.attnType());
        convIn = Layers.conv(prefix + "conv_in", dd.zChannels(), blockIn, 3, 1, 1, p, f);
        mid1 = new ResnetBlock(prefix + "mid.block_1", blockIn, blockIn, p, f);
        midAttn = anyAttn ? new AttnBlock(prefix + "mid.attn_1", blockIn, p, f, manager) : null;
        mid2 = new ResnetBlock(prefix + "mid.block_2", blockIn, blockIn, p, f);
        for (int i = 0; i < levels; i++) {
            blocks.add(null);
            attn.add(null);
            upsample.add(null);
        }
        for (int i = levels - 1; i >= 0; i--) {
            List<ResnetBlock> b = new ArrayList<>();
            List<AttnBlock> a = new ArrayList<>();
            int blockOut = dd.ch() * dd.chMult().get(i);
            for (int j = 0; j <= dd.numResBlocks(); j++) {
                b.add(new ResnetBlock(prefix + "up." + i + ".block." + j, blockIn, blockOut, p, f));
                blockIn = blockOut;
                if (dd.attnResolutions().contains(res) && anyAttn) {
                    a.add(new AttnBlock(prefix + "up." + i + ".attn." + j, blockIn, p, f, manager));
                }
            }
            blocks.set(i, b);
            attn.set(i, a);
            if (i != 0) {
                upsample.set(i, dd.resampWithConv()
                        ? Layers.conv(prefix + "up." + i + ".upsample.conv", blockIn, blockIn, 3, 1, 1, p, f)
                        : null);
                res *= 2;
            }
        }
        if (dd.givePreEnd()) {
            normOut = null;
            convOut = null;
        } else {
            normOut = Layers.normalize(prefix + "norm_out", blockIn, p);
            convOut = Layers.conv(prefix + "conv_out", blockIn, dd.outCh(), 3, 1, 1, p, f);
        }
    }

    /**
     * @param z (N, z_channels, h, w)
     * @return images (N, out_ch, h·f, w·f), in z's manager
     */
    public NDArray forward(NDArray z) {
        if (z.getShape().dimension() != 4 || z.getShape().get(1) != dd.zChannels()) {
            throw new QncdException("the decoder expects z of shape (N, " + dd.zChannels() + ", h, w), got "
                    + z.getShape());
        }
        NDArray h = convIn.forward(z);
        h = mid1.forward(h);
        if (midAttn != null) {
            h = midAttn.forward(h);
        }
        h = mid2.forward(h);
        for (int i = blocks.size() - 1; i >= 0; i--) {
            for (int j = 0; j < blocks.get(i).size(); j++) {
                h = blocks.get(i).get(j).forward(h);
                if (!attn.get(i).isEmpty()) {
                    h = attn.get(i).get(j).forward(h);
                }
            }
            if (i != 0) {
                NDArray up = h.repeat(2, 2).repeat(3, 2); // nearest-neighbour x2
                QuantLayer conv = upsample.get(i);
                h = conv == null ? up : conv.forward(up);
            }
        }
        if (convOut == null) {
            return h;
        }
        h = convOut.forward(Layers.swish(normOut.forward(h)));
        return dd.tanhOut() ? h.tanh() : h;
    }
}
