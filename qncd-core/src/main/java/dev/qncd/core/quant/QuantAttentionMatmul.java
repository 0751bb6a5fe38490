package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The two attention matmuls with activation quantizers, as Q-Diffusion places them
 * (qdiff/quant_block.py {@code cross_attn_forward} lines 190–221 and {@code QuantAttnBlock} lines
 * 354–386):
 *
 * <pre>  S = Q_q(q)·Q_k(k)ᵀ·scale,  A = softmax(S) (over the last axis),  out = Q_w(A)·Q_v(v)</pre>
 *
 * for q (B, T, C), k (B, S, C), v (B, S, C) (heads folded into B by the caller), out (B, T, C).
 * {@link ScalePlacement#SPLIT_BEFORE_QUANT} instead follows {@code QuantQKMatMul} (lines 114–134), which
 * quantizes q·√scale and k·√scale. The softmax quantizer is the reference's {@code act_quantizer_w}:
 * by default {@link QuantizerConfig#softmax(int)} with {@code sm_abit} bits, unsigned with zero point 0
 * (QuantSMVMatMul / QuantBasicTransformerBlock); note that the reference's {@code QuantAttnBlock}
 * (the DDIM CIFAR-10 model) builds it from the plain activation config instead — pass that config to
 * reproduce it. Masks are not supported (the diffusion models here use none).
 *
 * <p>Each quantization point can be switched on or off ({@link #setEnabled}); calibration hooks
 * {@link #calibrate}, {@link #observe}, {@link #freeze} as for the layers. Quantizer keys are the
 * reference's attribute names {@code act_quantizer_q}, {@code _k}, {@code _v}, {@code _w}.
 */
public final class QuantAttentionMatmul implements AutoCloseable {

    /** A quantization point. */
    public enum Point {
        /** q before QKᵀ ({@code act_quantizer_q}). */
        Q("act_quantizer_q"),
        /** k before QKᵀ ({@code act_quantizer_k}). */
        K("act_quantizer_k"),
        /** v before A·V ({@code act_quantizer_v}). */
        V("act_quantizer_v"),
        /** the softmax output A before A·V ({@code act_quantizer_w}). */
        SOFTMAX("act_quantizer_w");

        private final String key;

        Point(String key) {
            this.key = key;
        }

        /** @return the reference attribute name */
        public String key() {
            return key;
        }
    }

    /** Where the softmax scale is applied. */
    public enum ScalePlacement {
        /** S = Q(q)·Q(k)ᵀ·scale (cross_attn_forward, QuantAttnBlock). */
        AFTER_QK,
        /** S = Q(q·√scale)·Q(k·√scale)ᵀ (QuantQKMatMul of the openai UNet's AttentionBlock). */
        SPLIT_BEFORE_QUANT
    }

    private final String name;
    private final ScalePlacement placement;
    private final NDManager manager;
    private final Map<Point, UniformAffineQuantizer> quantizers = new EnumMap<>(Point.class);
    private Set<Point> enabled = EnumSet.noneOf(Point.class);

    /**
     * @param name the attention path, e.g. {@code middle.1.transformer_blocks.0.attn1}
     * @param actConfig config of the q, k, v quantizers (the activation config)
     * @param softmaxConfig config of the softmax-output quantizer (e.g. {@link QuantizerConfig#softmax(int)})
     * @param placement where the scale goes
     * @param parent the manager the quantizer parameters live under
     */
    public QuantAttentionMatmul(String name, QuantizerConfig actConfig, QuantizerConfig softmaxConfig,
            ScalePlacement placement, NDManager parent) {
        this.name = Objects.requireNonNull(name, "name");
        this.placement = Objects.requireNonNull(placement, "placement");
        this.manager = parent.newSubManager();
        for (Point p : Point.values()) {
            QuantizerConfig c = p == Point.SOFTMAX ? softmaxConfig : actConfig;
            quantizers.put(p, new UniformAffineQuantizer(name + "." + p.key(), c, manager));
        }
    }

    /** @return the attention path */
    public String name() {
        return name;
    }

    /**
     * Chooses which points are fake-quantized in {@link #forward} (none by default, as the reference's
     * {@code use_act_quant = False}).
     *
     * @param points the enabled points
     */
    public void setEnabled(Set<Point> points) {
        this.enabled = points.isEmpty() ? EnumSet.noneOf(Point.class) : EnumSet.copyOf(points);
    }

    /** @param on all points on (the reference's {@code set_quant_state(_, act_quant=True)}) or all off */
    public void setActQuant(boolean on) {
        setEnabled(on ? EnumSet.allOf(Point.class) : EnumSet.noneOf(Point.class));
    }

    /** @return the enabled points */
    public Set<Point> enabled() {
        return Collections.unmodifiableSet(enabled);
    }

    /** @return the quantizers by reference attribute name */
    public Map<String, UniformAffineQuantizer> quantizersByKey() {
        Map<String, UniformAffineQuantizer> out = new LinkedHashMap<>();
        quantizers.forEach((p, q) -> out.put(p.key(), q));
        return out;
    }

    /**
     * @param p a point
     * @return its quantizer
     */
    public UniformAffineQuantizer quantizer(Point p) {
        return quantizers.get(p);
    }

    /**
     * Replaces a quantizer (e.g. restored from a checkpoint); takes ownership and closes the old one.
     *
     * @param p the point
     * @param q the new quantizer
     */
    public void setQuantizer(Point p, UniformAffineQuantizer q) {
        UniformAffineQuantizer old = quantizers.put(p, Objects.requireNonNull(q, "quantizer"));
        if (old != null && old != q) {
            old.close();
        }
    }

    /**
     * softmax(Q(q)·Q(k)ᵀ·scale)·... as in the class comment, with the enabled points quantized.
     *
     * @param q queries (B, T, C)
     * @param k keys (B, S, C)
     * @param v values (B, S, C)
     * @param scale the softmax scale, usually C^(−1/2)
     * @return (B, T, C), attached to q's manager
     */
    public NDArray forward(NDArray q, NDArray k, NDArray v, float scale) {
        return run(q, k, v, scale, Mode.FORWARD);
    }

    /**
     * Range initialisation of all four quantizers from one batch, in the reference's order: q and k
     * first; the softmax quantizer sees softmax(Q(q)·Q(k)ᵀ·scale) computed with the freshly calibrated
     * q/k quantizers; v independently. The output is computed the same way and returned.
     *
     * @param q queries (B, T, C)
     * @param k keys (B, S, C)
     * @param v values (B, S, C)
     * @param scale the softmax scale
     * @return the quantized attention output, attached to q's manager
     */
    public NDArray calibrate(NDArray q, NDArray k, NDArray v, float scale) {
        return run(q, k, v, scale, Mode.CALIBRATE);
    }

    /**
     * Running-statistics update of all four quantizers (the reference's {@code running_stat} pass);
     * the softmax input uses the updated q/k quantizers.
     *
     * @param q queries (B, T, C)
     * @param k keys (B, S, C)
     * @param v values (B, S, C)
     * @param scale the softmax scale
     * @return the quantized attention output, attached to q's manager
     */
    public NDArray observe(NDArray q, NDArray k, NDArray v, float scale) {
        return run(q, k, v, scale, Mode.OBSERVE);
    }

    /** Freezes all four quantizers (each must be calibrated). */
    public void freeze() {
        for (UniformAffineQuantizer q : quantizers.values()) {
            q.freeze();
        }
    }

    /** Frees the quantizers. */
    @Override
    public void close() {
        for (UniformAffineQuantizer q : quantizers.values()) {
            q.close();
        }
        manager.close();
    }

    private enum Mode {
        FORWARD,
        CALIBRATE,
        OBSERVE
    }

    private NDArray run(NDArray q, NDArray k, NDArray v, float scale, Mode mode) {
        NDManager caller = q.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray qs = q;
            NDArray ks = k;
            if (placement == ScalePlacement.SPLIT_BEFORE_QUANT) {
                float root = (float) Math.sqrt(scale);
                qs = Tensors.own(sub, q.mul(root));
                ks = Tensors.own(sub, k.mul(root));
            }
            NDArray qq = point(sub, Point.Q, qs, mode);
            NDArray kq = point(sub, Point.K, ks, mode);
            NDArray logits = Tensors.own(sub, qq.matMul(Tensors.own(sub, kq.transpose(0, 2, 1))));
            if (placement == ScalePlacement.AFTER_QK) {
                logits = logits.mul(scale);
            }
            NDArray attn = logits.softmax(-1);
            NDArray aq = point(sub, Point.SOFTMAX, attn, mode);
            NDArray vq = point(sub, Point.V, v, mode);
            NDArray out = Tensors.own(sub, aq.matMul(vq));
            out.attach(caller);
            return out;
        }
    }

    /** The point's input, fake-quantized when enabled (forward) or always (calibrate/observe). */
    private NDArray point(NDManager sub, Point p, NDArray x, Mode mode) {
        UniformAffineQuantizer q = quantizers.get(p);
        if (mode == Mode.CALIBRATE) {
            q.calibrate(x);
        } else if (mode == Mode.OBSERVE) {
            q.observe(x);
        } else if (!enabled.contains(p)) {
            return x;
        }
        return Tensors.own(sub, q.fakeQuantize(x));
    }
}
