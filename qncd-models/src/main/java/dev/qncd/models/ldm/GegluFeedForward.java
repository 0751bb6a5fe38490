package dev.qncd.models.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.qncd.core.quant.QuantLayer;
import dev.qncd.models.nn.LayerFactory;
import dev.qncd.models.nn.ParamSource;

/**
 * latent-diffusion's {@code FeedForward} with a GEGLU input projection (the transformer blocks' feed
 * forward, {@code gated_ff=True}, mult 4): [a, g] = net.0.proj(x) (width 2·4·dim), y = net.2(a·GELU(g))
 * with the exact (erf) GELU of {@code F.gelu}; net.1 is dropout (the identity at inference).
 */
public final class GegluFeedForward {
    private final String path;
    private final QuantLayer proj;
    private final QuantLayer out;

    /**
     * @param path key path, e.g. {@code input_blocks.1.1.transformer_blocks.0.ff}
     * @param dim input and output width
     * @param params parameter source
     * @param layers layer factory
     */
    GegluFeedForward(String path, int dim, ParamSource params, LayerFactory layers) {
        this.path = path;
        int inner = 4 * dim;
        this.proj = LdmLayers.linear(path + ".net.0.proj", dim, 2 * inner, true, params, layers);
        this.out = LdmLayers.linear(path + ".net.2", inner, dim, true, params, layers);
    }

    /**
     * @param x (..., dim)
     * @return (..., dim), in x's manager
     */
    public NDArray forward(NDArray x) {
        NDArray p = proj.forward(x);
        NDList parts = p.split(2, p.getShape().dimension() - 1);
        NDArray gated = parts.get(0).mul(gelu(parts.get(1)));
        return out.forward(gated);
    }

    /** GELU(x) = x·Φ(x) with the exact normal CDF (torch's default, approximate='none'). */
    static NDArray gelu(NDArray x) {
        return x.getNDArrayInternal().gelu();
    }

    /** @return the key path */
    public String path() {
        return path;
    }

    /** @return net.0.proj (the GEGLU projection) */
    public QuantLayer proj() {
        return proj;
    }

    /** @return net.2 */
    public QuantLayer out() {
        return out;
    }
}
