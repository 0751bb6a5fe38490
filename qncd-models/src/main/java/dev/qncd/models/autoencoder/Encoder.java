package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import dev.qncd.core.QncdException;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.GroupNorm;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;
import java.util.ArrayList;
import java.util.List;

/**
 * The autoencoder's {@code Encoder}: {@code conv_in}; per level {@code down.i.block.j} (ResnetBlock),
 * {@code down.i.attn.j} where the level's resolution is in {@code attn_resolutions},
 * {@code down.i.downsample.conv} (zero-pad right/bottom by one, 3x3 stride-2 conv; average pooling
 * without {@code resamp_with_conv}) except after the last; {@code mid.block_1}, {@code mid.attn_1},
 * {@code mid.block_2}; {@code norm_out}, swish, {@code conv_out} to 2·z_channels ({@code double_z}) or
 * z_channels. Keys are relative to the {@code encoder.} prefix given at construction.
 */
public final class Encoder {
    private final AutoencoderConfig.DdConfig dd;
    private final QuantLayer convIn;
    private final List<List<ResnetBlock>> blocks = new ArrayList<>();
    private final List<List<AttnBlock>> attn = new ArrayList<>();
    private final List<QuantLayer> downsample = new ArrayList<>();
    private final ResnetBlock mid1;
    private final AttnBlock midAttn;
    private final ResnetBlock mid2;
    private final GroupNorm normOut;
    private final QuantLayer convOut;

    Encoder(String prefix, AutoencoderConfig.DdConfig dd, ParamSource p, LayerFactory f, NDManager manager) {
        this.dd = dd;
        int ch = dd.ch();
        convIn = Layers.conv(prefix + "conv_in", dd.inChannels(), ch, 3, 1, 1, p, f);
        int res = dd.resolution();
        int blockIn = ch;
        for (int i = 0; i < dd.levels(); i++) {
            List<ResnetBlock> b = new ArrayList<>();
            List<AttnBlock> a = new ArrayList<>();
            blockIn = ch * (i == 0 ? 1 : dd.chMult().get(i - 1));
            int blockOut = ch * dd.chMult().get(i);
            for (int j = 0; j < dd.numResBlocks(); j++) {
                b.add(new ResnetBlock(prefix + "down." + i + ".block." + j, blockIn, blockOut, p, f));
                blockIn = blockOut;
                if (dd.attnResolutions().contains(res) && !"none".equals(dd.attnType())) {
                    a.add(new AttnBlock(prefix + "down." + i + ".attn." + j, blockIn, p, f, manager));
                }
            }
            blocks.add(b);
            attn.add(a);
            if (i != dd.levels() - 1) {
                downsample.add(dd.resampWithConv()
                        ? Layers.conv(prefix + "down." + i + ".downsample.conv", blockIn, blockIn, 3, 2, 0, p, f)
                        : null);
                res /= 2;
            }
        }
        mid1 = new ResnetBlock(prefix + "mid.block_1", blockIn, blockIn, p, f);
        midAttn = "none".equals(dd.attnType()) ? null : new AttnBlock(prefix + "mid.attn_1", blockIn, p, f, manager);
        mid2 = new ResnetBlock(prefix + "mid.block_2", blockIn, blockIn, p, f);
        normOut = Layers.normalize(prefix + "norm_out", blockIn, p);
        convOut = Layers.conv(prefix + "conv_out", blockIn, dd.doubleZ() ? 2 * dd.zChannels() : dd.zChannels(), 3, 1, 1,
                p, f);
    }

    /**
     * @param x images (N, in_channels, H, W), usually in [−1, 1]
     * @return (N, 2·z_channels or z_channels, H/f, W/f), in x's manager
     */
    public NDArray forward(NDArray x) {
        if (x.getShape().dimension() != 4 || x.getShape().get(1) != dd.inChannels()) {
            throw new QncdException("the encoder expects images of shape (N, " + dd.inChannels() + ", H, W), got "
                    + x.getShape());
        }
        NDArray h = convIn.forward(x);
        for (int i = 0; i < blocks.size(); i++) {
            for (int j = 0; j < blocks.get(i).size(); j++) {
                h = blocks.get(i).get(j).forward(h);
                if (!attn.get(i).isEmpty()) {
                    h = attn.get(i).get(j).forward(h);
                }
            }
            if (i != blocks.size() - 1) {
                QuantLayer conv = downsample.get(i);
                h = conv == null
                        ? Pool.avgPool2d(h, new Shape(2, 2), new Shape(2, 2), new Shape(0, 0), false, true)
                        // no asymmetric padding in conv: pad right and bottom by one, stride-2 conv unpadded
                        : conv.forward(h.pad(new Shape(0, 1, 0, 1), 0));
            }
        }
        h = mid1.forward(h);
        if (midAttn != null) {
            h = midAttn.forward(h);
        }
        h = mid2.forward(h);
        return convOut.forward(Layers.swish(normOut.forward(h)));
    }
}
