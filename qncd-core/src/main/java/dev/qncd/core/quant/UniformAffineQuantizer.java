package dev.qncd.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uniform affine fake quantizer (Jacob et al. 2018, arXiv 1806.08342; Q-Diffusion's
 * {@code UniformAffineQuantizer}, qdiff/quant_layer.py):
 *
 * <pre>  q(x) = (clamp(round(x/Δ) + z, lo, hi) − z)·Δ</pre>
 *
 * with round half to even ({@code torch.round}), levels lo..hi from {@link QuantizerConfig#levelMin()}
 * / {@link QuantizerConfig#levelMax()}, and Δ, z per tensor (shape ()) or per channel (shape (C),
 * broadcast along {@code channelAxis} for an input of any rank).
 *
 * <p>Explicit life cycle ({@link QuantState}), never lazy initialisation in the forward pass:
 * {@link #calibrate(NDArray)} sets Δ, z from one batch with the configured {@link RangeEstimator};
 * {@link #observe(NDArray)} refines them by the running min/max EMA of {@code act_momentum_update}
 * (x_min ← m·x_min + (1 − m)·batch_min, likewise x_max, then Δ, z = {@link QuantParams#fromRange});
 * {@link #freeze()} makes them read-only. Calls out of order throw {@link IllegalStateException} naming
 * the missing call.
 *
 * <p>Memory: Δ, z, x_min, x_max live in this quantizer's own sub-manager (closed by {@link #close()});
 * every method scopes its temporaries in a sub-manager of the input's manager and returns its result
 * attached to the input's manager. Inputs are float32. Not thread-safe.
 */
public final class UniformAffineQuantizer implements WeightQuantizer {
    private static final Logger LOG = LoggerFactory.getLogger(UniformAffineQuantizer.class);

    /** Tensor key of Δ. */
    public static final String DELTA = "delta";
    /** Tensor key of z. */
    public static final String ZERO_POINT = "zero_point";
    /** Tensor key of the running minimum (the raw batch minimum after {@code calibrate}). */
    public static final String X_MIN = "x_min";
    /** Tensor key of the running maximum. */
    public static final String X_MAX = "x_max";

    private final String name;
    private final QuantizerConfig config;
    private final RangeEstimator estimator;
    private final NDManager manager;
    private QuantState state = QuantState.UNCALIBRATED;
    private NDArray delta;
    private NDArray zeroPoint;
    private NDArray xMin;
    private NDArray xMax;
    private long channels;
    private long observed;

    /**
     * A quantizer with the estimator of {@code config.rangeMethod()}.
     *
     * @param name its name, used in messages and as checkpoint key prefix
     * @param config its config
     * @param parent the manager (and so the device) its parameters live under
     */
    public UniformAffineQuantizer(String name, QuantizerConfig config, NDManager parent) {
        this(name, config, RangeEstimator.of(config.rangeMethod()), parent);
    }

    /**
     * A quantizer with a custom range estimator.
     *
     * @param name its name
     * @param config its config
     * @param estimator the range estimator {@link #calibrate} uses
     * @param parent the manager its parameters live under
     */
    public UniformAffineQuantizer(String name, QuantizerConfig config, RangeEstimator estimator,
            NDManager parent) {
        this.name = Objects.requireNonNull(name, "name");
        this.config = Objects.requireNonNull(config, "config");
        this.estimator = Objects.requireNonNull(estimator, "estimator");
        this.manager = parent.newSubManager();
    }

    /** {@inheritDoc} */
    @Override
    public String name() {
        return name;
    }

    /** @return the config */
    public QuantizerConfig config() {
        return config;
    }

    /** {@inheritDoc} */
    @Override
    public QuantState state() {
        return state;
    }

    /** @return C of the per-channel parameters, 0 per tensor or before calibration */
    public long channels() {
        return channels;
    }

    /** @return the number of {@link #observe} updates since the last {@link #calibrate} */
    public long observedBatches() {
        return observed;
    }

    /**
     * Range initialisation from one batch (the reference's {@code init_quantization_scale} on the first
     * forward call): Δ, z from the configured estimator; x_min, x_max set to the raw batch min/max (as
     * the reference's {@code leaf_param} branch) for later {@link #observe} updates. Allowed while
     * UNCALIBRATED or CALIBRATED (re-calibration replaces everything).
     *
     * @param x a calibration batch
     * @throws IllegalStateException when FROZEN
     */
    @Override
    public void calibrate(NDArray x) {
        if (state == QuantState.FROZEN) {
            throw new IllegalStateException("quantizer '" + name + "' is FROZEN: calibrate(x) is only allowed "
                    + "before freeze(); build a new quantizer to recalibrate");
        }
        int axis = RangeEstimator.channelAxis(x, config, name);
        QuantParams p = estimator.estimate(x, config);
        try (NDManager sub = x.getManager().newSubManager()) {
            sub.attachAll(p.delta(), p.zeroPoint());
            NDArray xf = Tensors.float32(sub, x);
            NDArray mn = Tensors.min(sub, xf, axis);
            NDArray mx = Tensors.max(sub, xf, axis);
            install(p.delta(), p.zeroPoint(), mn, mx);
        }
        channels = axis < 0 ? 0 : x.getShape().get(axis);
        observed = 0;
        state = QuantState.CALIBRATED;
        if (LOG.isDebugEnabled()) {
            LOG.debug("{}: calibrated {} ({} bits, {}), delta[0]={}", name, config.rangeMethod(), config.bits(),
                    channels == 0 ? "per tensor" : channels + " channels", delta.toFloatArray()[0]);
        }
    }

    /**
     * Running-statistics update ({@code act_momentum_update}, quant_layer.py lines 91–110) with momentum
     * m = {@code config.momentum()}: x_min ← m·x_min + (1 − m)·min x, x_max ← m·x_max + (1 − m)·max x
     * (float32), then Δ, z = {@link QuantParams#fromRange}(x_min, x_max).
     *
     * @param x a calibration batch
     * @throws IllegalStateException when UNCALIBRATED, FROZEN, or the config has {@code runningStat=false}
     */
    public void observe(NDArray x) {
        if (state == QuantState.UNCALIBRATED) {
            throw new IllegalStateException("quantizer '" + name + "' is not calibrated: call calibrate(x) "
                    + "before observe(x)");
        }
        if (state == QuantState.FROZEN) {
            throw new IllegalStateException("quantizer '" + name + "' is FROZEN: observe(x) (running "
                    + "statistics) is only allowed while CALIBRATED, before freeze()");
        }
        if (!config.runningStat()) {
            throw new IllegalStateException("quantizer '" + name + "' has runningStat=false: build it with "
                    + "config.withRunningStat(true) to call observe(x)");
        }
        int axis = RangeEstimator.channelAxis(x, config, name);
        checkChannels(x, axis);
        float m = (float) config.momentum();
        float om = (float) (1.0 - config.momentum());
        try (NDManager sub = x.getManager().newSubManager()) {
            NDArray xf = Tensors.float32(sub, x);
            NDArray bMin = onDevice(sub, Tensors.min(sub, xf, axis));
            NDArray bMax = onDevice(sub, Tensors.max(sub, xf, axis));
            NDArray nMin = Tensors.own(sub, xMin.mul(m)).add(bMin.mul(om));
            NDArray nMax = Tensors.own(sub, xMax.mul(m)).add(bMax.mul(om));
            QuantParams p = QuantParams.fromRange(nMin, nMax, config);
            install(p.delta(), p.zeroPoint(), nMin, nMax);
        }
        observed++;
    }

    /**
     * Makes Δ and z final (idempotent).
     *
     * @throws IllegalStateException when UNCALIBRATED
     */
    @Override
    public void freeze() {
        if (state == QuantState.UNCALIBRATED) {
            throw new IllegalStateException("quantizer '" + name + "' is not calibrated: call calibrate(x) "
                    + "(or load its state) before freeze()");
        }
        state = QuantState.FROZEN;
    }

    /**
     * q(x) = (clamp(round(x/Δ) + z, lo, hi) − z)·Δ (the reference's {@code forward}, lines 82–88).
     *
     * @param x the input (float32), any rank; per channel its {@code channelAxis} must have C entries
     * @return q(x), attached to x's manager
     * @throws IllegalStateException when UNCALIBRATED
     */
    @Override
    public NDArray fakeQuantize(NDArray x) {
        requireCalibrated("fakeQuantize");
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray[] dz = broadcastParams(sub, x);
            NDArray out = fakeQuantize(sub, x, dz[0], dz[1], config);
            out.attach(caller);
            return out;
        }
    }

    /**
     * The integer codes clamp(round(x/Δ) + z, lo, hi) (what a real integer kernel would consume;
     * x ≈ (code − z)·Δ).
     *
     * @param x the input (float32)
     * @return int32 codes, attached to x's manager
     * @throws IllegalStateException when UNCALIBRATED
     */
    public NDArray quantizeToInt(NDArray x) {
        requireCalibrated("quantizeToInt");
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray[] dz = broadcastParams(sub, x);
            NDArray t = Tensors.own(sub, x.div(dz[0]));
            NDArray codes = t.round().addi(dz[1]).clip(config.levelMin(), config.levelMax())
                    .toType(DataType.INT32, false);
            codes.attach(caller);
            return codes;
        }
    }

    /**
     * @return Δ, float32 shape () or (C); owned by this quantizer, valid until the next
     *     calibrate/observe or close
     * @throws IllegalStateException when UNCALIBRATED
     */
    public NDArray delta() {
        requireCalibrated("delta");
        return delta;
    }

    /**
     * @return z, float32 shape () or (C); owned by this quantizer
     * @throws IllegalStateException when UNCALIBRATED
     */
    public NDArray zeroPoint() {
        requireCalibrated("zeroPoint");
        return zeroPoint;
    }

    /**
     * The tensors to save: {@code prefix + "delta"}, {@code "zero_point"}, {@code "x_min"},
     * {@code "x_max"} (float32, shape () or (C)); empty while UNCALIBRATED. Owned by this quantizer.
     *
     * @param prefix prepended verbatim, e.g. {@code "down.0.conv1.act_quantizer."}
     * @return key → tensor, in that order
     */
    @Override
    public Map<String, NDArray> tensors(String prefix) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        if (state != QuantState.UNCALIBRATED) {
            out.put(prefix + DELTA, delta);
            out.put(prefix + ZERO_POINT, zeroPoint);
            out.put(prefix + X_MIN, xMin);
            out.put(prefix + X_MAX, xMax);
        }
        return out;
    }

    /** @return the JSON-sidecar record of this quantizer */
    public QuantizerState saveState() {
        return new QuantizerState(name, config, state, channels, observed);
    }

    /**
     * Rebuilds a quantizer from {@link #saveState()} and {@link #tensors(String)} with an empty prefix.
     *
     * @see #restore(String, QuantizerState, Map, String, NDManager)
     */
    public static UniformAffineQuantizer restore(String name, QuantizerState saved, Map<String, NDArray> tensors,
            NDManager parent) {
        return restore(name, saved, tensors, "", parent);
    }

    /**
     * Rebuilds a quantizer from {@link #saveState()} and {@link #tensors(String)}: the tensors are
     * copied (the map stays the caller's), so fakeQuantize is bit-identical to the saved quantizer's.
     *
     * @param name its name
     * @param saved the sidecar record
     * @param tensors the saved tensors (float32)
     * @param prefix the prefix they were saved under
     * @param parent the manager (device) the restored quantizer lives under
     * @return the quantizer, in {@code saved.state()}
     * @throws FormatException when a tensor is missing, not float32, or has the wrong size
     */
    public static UniformAffineQuantizer restore(String name, QuantizerState saved, Map<String, NDArray> tensors,
            String prefix, NDManager parent) {
        UniformAffineQuantizer q = new UniformAffineQuantizer(name, saved.config(), parent);
        if (saved.state() == QuantState.UNCALIBRATED) {
            return q;
        }
        try {
            long n = saved.channels() == 0 ? 1 : saved.channels();
            Shape shape = saved.channels() == 0 ? new Shape() : new Shape(saved.channels());
            NDArray[] loaded = new NDArray[4];
            String[] keys = {DELTA, ZERO_POINT, X_MIN, X_MAX};
            for (int i = 0; i < 4; i++) {
                String key = prefix + keys[i];
                NDArray t = tensors.get(key);
                if (t == null) {
                    throw new FormatException("missing tensor '" + key + "' of quantizer '" + name + "' (state "
                            + saved.state() + "): save with tensors(prefix) and restore with the same prefix");
                }
                if (t.getDataType() != DataType.FLOAT32 || t.size() != n) {
                    throw new FormatException("tensor '" + key + "' of quantizer '" + name + "' is "
                            + t.getDataType() + " " + t.getShape() + ", expected FLOAT32 with " + n
                            + " element(s): save quantizer tensors unconverted as float32");
                }
                NDArray copy = t.reshape(shape);
                NDArray dup = copy.toDevice(q.manager.getDevice(), true);
                copy.close();
                dup.attach(q.manager);
                loaded[i] = dup;
            }
            q.delta = loaded[0];
            q.zeroPoint = loaded[1];
            q.xMin = loaded[2];
            q.xMax = loaded[3];
            q.channels = saved.channels();
            q.observed = saved.observedBatches();
            q.state = saved.state();
            return q;
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
    }

    /** Frees Δ, z, x_min, x_max. */
    @Override
    public void close() {
        manager.close();
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "UniformAffineQuantizer[" + name + ", " + state + ", " + config + "]";
    }

    /**
     * q(x) with already-broadcast Δ and z; the result and its temporaries live in {@code m}.
     *
     * @param m the scope owning the result
     * @param x the input
     * @param d Δ broadcastable to x
     * @param z z broadcastable to x
     * @param c the config (levels)
     * @return (clamp(round(x/Δ) + z, lo, hi) − z)·Δ in {@code m}
     */
    static NDArray fakeQuantize(NDManager m, NDArray x, NDArray d, NDArray z, QuantizerConfig c) {
        NDArray t = Tensors.own(m, x.div(d));
        NDArray r = t.round();
        t.close();
        r.addi(z);
        NDArray q = r.clip(c.levelMin(), c.levelMax());
        r.close();
        return q.subi(z).muli(d);
    }

    private void requireCalibrated(String call) {
        if (state == QuantState.UNCALIBRATED) {
            throw new IllegalStateException("quantizer '" + name + "' is not calibrated: call calibrate(x) "
                    + "(or load its state) before " + call);
        }
    }

    private void checkChannels(NDArray x, int axis) {
        if (axis >= 0 && x.getShape().get(axis) != channels) {
            throw new IllegalArgumentException("quantizer '" + name + "' has " + channels + " channels on axis "
                    + axis + " but the input " + x.getShape() + " has " + x.getShape().get(axis)
                    + ": pass a tensor of the calibrated layout");
        }
    }

    /** Δ and z in sub, reshaped to broadcast along the channel axis of x and on x's device. */
    private NDArray[] broadcastParams(NDManager sub, NDArray x) {
        int axis = RangeEstimator.channelAxis(x, config, name);
        checkChannels(x, axis);
        NDArray d = delta;
        NDArray z = zeroPoint;
        if (axis >= 0) {
            Shape b = Tensors.broadcastShape(x.getShape().dimension(), axis, channels);
            d = Tensors.own(sub, d.reshape(b));
            z = Tensors.own(sub, z.reshape(b));
        }
        if (!d.getDevice().equals(x.getDevice())) {
            d = Tensors.own(sub, d.toDevice(x.getDevice(), true));
            z = Tensors.own(sub, z.toDevice(x.getDevice(), true));
        }
        return new NDArray[] {d, z};
    }

    /** a (in sub) on this quantizer's device (a copy in sub when the devices differ). */
    private NDArray onDevice(NDManager sub, NDArray a) {
        return a.getDevice().equals(manager.getDevice()) ? a : Tensors.own(sub, a.toDevice(manager.getDevice(), true));
    }

    /** Moves fresh arrays (created by this call, currently in its scope) into this quantizer's manager. */
    private void install(NDArray d, NDArray z, NDArray mn, NDArray mx) {
        NDArray[] fresh = {d, z, mn, mx};
        NDArray[] kept = new NDArray[4];
        for (int i = 0; i < 4; i++) {
            NDArray a = fresh[i];
            if (a.getDataType() != DataType.FLOAT32) {
                a = a.toType(DataType.FLOAT32, false);
            }
            if (!a.getDevice().equals(manager.getDevice())) {
                a = a.toDevice(manager.getDevice(), false);
            }
            a.attach(manager);
            kept[i] = a;
        }
        closeParams();
        delta = kept[0];
        zeroPoint = kept[1];
        xMin = kept[2];
        xMax = kept[3];
    }

    private void closeParams() {
        for (NDArray a : new NDArray[] {delta, zeroPoint, xMin, xMax}) {
            if (a != null) {
                a.close();
            }
        }
    }
}
