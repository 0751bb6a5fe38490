package dev.qncd.core.quant;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Base of the quantized conv/linear blocks: Q-Diffusion's {@code QuantModule} (qdiff/quant_layer.py
 * lines 203–294). The forward pass is
 *
 * <pre>  y = f(Q_a(x), Q_w(W), b)</pre>
 *
 * with f the functional conv/linear, Q_a the activation quantizer(s) (when the {@link QuantMode}
 * quantizes activations) and Q_w the weight quantizer(s) (when it quantizes weights; the bias is never
 * quantized). With a {@code split} index s &gt; 0 (the split shortcut of decoder blocks whose input is
 * concat(h, skip)) the input channels [0, s) and [s, C) have separate activation quantizers
 * ({@code act_quantizer}, {@code act_quantizer_0}) and the weight slices W[:, :s] and W[:, s:] separate
 * weight quantizers ({@code weight_quantizer}, {@code weight_quantizer_0}), each per output channel;
 * the two halves are concatenated again before f, exactly as the reference's forward with
 * {@code self.split != 0}.
 *
 * <p>Life cycle: {@link #calibrateWeights()}, {@link #calibrateActivations(NDArray)} (then optionally
 * {@link #observeActivations(NDArray)}), {@link #freeze()}. After {@code freeze()} the fake-quantized
 * weight is computed once and cached, so quantized inference costs about as much as full precision.
 *
 * <p>The weight and bias arrays are the caller's (the original model's): this block wraps them in DJL
 * {@link Parameter}s but does not close them. Its quantizers and caches are freed by {@link #close()}.
 */
public abstract class QuantLayer extends AbstractBlock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QuantLayer.class);

    /** Key of the (first-group) weight quantizer, as the reference's attribute name. */
    public static final String WEIGHT_QUANTIZER = "weight_quantizer";
    /** Key of the second-group weight quantizer of a split layer. */
    public static final String WEIGHT_QUANTIZER_0 = "weight_quantizer_0";
    /** Key of the (first-group) activation quantizer. */
    public static final String ACT_QUANTIZER = "act_quantizer";
    /** Key of the second-group activation quantizer of a split layer. */
    public static final String ACT_QUANTIZER_0 = "act_quantizer_0";

    private final String name;
    private final Parameter weight;
    private final Parameter bias;
    private final int split;
    private final int inputChannelAxis;
    private final NDManager manager;
    private final List<WeightQuantizer> weightQuantizers = new ArrayList<>();
    private final List<UniformAffineQuantizer> actQuantizers = new ArrayList<>();
    private QuantMode mode = QuantMode.OFF;
    private NDArray cachedWeight;
    private boolean frozen;

    /**
     * @param name the layer path, e.g. {@code down.0.block.0.conv1}; quantizers are named
     *     {@code name + "." + key}
     * @param weightArray the full-precision weight, (O, I/groups, k...) or (O, I)
     * @param biasArray the bias (O), or null
     * @param weightConfig config of the weight quantizer(s) (usually per channel on axis 0)
     * @param actConfig config of the activation quantizer(s) (usually per tensor)
     * @param split input-channel split index s (0: none)
     * @param inputChannelAxis the input's channel axis: 1 for conv (N, C, ...), −1 for linear (..., C)
     */
    protected QuantLayer(String name, NDArray weightArray, NDArray biasArray, QuantizerConfig weightConfig,
            QuantizerConfig actConfig, int split, int inputChannelAxis) {
        this.name = Objects.requireNonNull(name, "name");
        Objects.requireNonNull(weightArray, "weight");
        long inWeight = weightArray.getShape().get(1);
        if (split < 0 || (split > 0 && split >= inWeight)) {
            throw new IllegalArgumentException("layer '" + name + "': split " + split + " must be 0 (none) or in 1.."
                    + (inWeight - 1) + " (the weight has " + inWeight + " input channels)");
        }
        this.split = split;
        this.inputChannelAxis = inputChannelAxis;
        this.manager = weightArray.getManager().newSubManager();
        this.weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.WEIGHT)
                .optArray(weightArray).build());
        this.bias = biasArray == null ? null
                : addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BIAS)
                        .optArray(biasArray).build());
        weightQuantizers.add(new UniformAffineQuantizer(name + "." + WEIGHT_QUANTIZER, weightConfig, manager));
        actQuantizers.add(new UniformAffineQuantizer(name + "." + ACT_QUANTIZER, actConfig, manager));
        if (split > 0) {
            weightQuantizers.add(new UniformAffineQuantizer(name + "." + WEIGHT_QUANTIZER_0, weightConfig, manager));
            actQuantizers.add(new UniformAffineQuantizer(name + "." + ACT_QUANTIZER_0, actConfig, manager));
        }
    }

    /** @return the layer path */
    public String name() {
        return name;
    }

    /** @return the split index s (0: none) */
    public int split() {
        return split;
    }

    /** @return the full-precision weight (the caller's array) */
    public NDArray weight() {
        return weight.getArray();
    }

    /** @return the bias, or null */
    public NDArray bias() {
        return bias == null ? null : bias.getArray();
    }

    /** @return the current mode */
    public QuantMode mode() {
        return mode;
    }

    /**
     * Switches what the forward pass quantizes (the reference's {@code set_quant_state}).
     *
     * @param mode the new mode
     */
    public void setMode(QuantMode mode) {
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    /** @return the weight quantizers: [W[:, :s]] or [W[:, :s], W[:, s:]] */
    public List<WeightQuantizer> weightQuantizers() {
        return Collections.unmodifiableList(weightQuantizers);
    }

    /** @return the activation quantizers: [x[:, :s]] or [x[:, :s], x[:, s:]] */
    public List<UniformAffineQuantizer> activationQuantizers() {
        return Collections.unmodifiableList(actQuantizers);
    }

    /**
     * The weight quantizers by their reference attribute names ({@code weight_quantizer}, and with a
     * split {@code weight_quantizer_0}).
     *
     * @return key → quantizer
     */
    public Map<String, WeightQuantizer> weightQuantizersByKey() {
        Map<String, WeightQuantizer> out = new LinkedHashMap<>();
        out.put(WEIGHT_QUANTIZER, weightQuantizers.get(0));
        if (split > 0) {
            out.put(WEIGHT_QUANTIZER_0, weightQuantizers.get(1));
        }
        return out;
    }

    /**
     * The activation quantizers by their reference attribute names ({@code act_quantizer}, and with a
     * split {@code act_quantizer_0}).
     *
     * @return key → quantizer
     */
    public Map<String, UniformAffineQuantizer> activationQuantizersByKey() {
        Map<String, UniformAffineQuantizer> out = new LinkedHashMap<>();
        out.put(ACT_QUANTIZER, actQuantizers.get(0));
        if (split > 0) {
            out.put(ACT_QUANTIZER_0, actQuantizers.get(1));
        }
        return out;
    }

    /**
     * Every calibrated quantizer's tensors under {@code name + "." + key + "."}, e.g.
     * {@code down.0.conv1.act_quantizer.delta} (owned by the quantizers).
     *
     * @return key → tensor
     */
    public Map<String, NDArray> quantizerTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        weightQuantizersByKey().forEach((k, q) -> out.putAll(q.tensors(name + "." + k + ".")));
        activationQuantizersByKey().forEach((k, q) -> out.putAll(q.tensors(name + "." + k + ".")));
        return out;
    }

    /**
     * Replaces a weight quantizer (e.g. by an AdaRound quantizer initialised from the current one); this
     * layer takes ownership of the new one, closes the old one, and drops the cached weight (call
     * {@link #freeze()} again).
     *
     * @param group 0, or 1 for W[:, s:] of a split layer
     * @param quantizer the new quantizer
     */
    public void setWeightQuantizer(int group, WeightQuantizer quantizer) {
        Objects.checkIndex(group, weightQuantizers.size());
        WeightQuantizer old = weightQuantizers.set(group, Objects.requireNonNull(quantizer, "quantizer"));
        if (old != quantizer) {
            old.close();
        }
        dropCache();
        frozen = false;
    }

    /**
     * Replaces an activation quantizer (e.g. one restored from a checkpoint); takes ownership.
     *
     * @param group 0, or 1 for x[:, s:] of a split layer
     * @param quantizer the new quantizer
     */
    public void setActivationQuantizer(int group, UniformAffineQuantizer quantizer) {
        Objects.checkIndex(group, actQuantizers.size());
        UniformAffineQuantizer old = actQuantizers.set(group, Objects.requireNonNull(quantizer, "quantizer"));
        if (old != quantizer) {
            old.close();
        }
    }

    /** Weight range initialisation: each weight quantizer calibrates on its weight slice. */
    public void calibrateWeights() {
        NDArray w = weight.getArray();
        try (NDManager sub = manager.newSubManager()) {
            for (int g = 0; g < weightQuantizers.size(); g++) {
                weightQuantizers.get(g).calibrate(weightGroup(sub, w, g));
            }
        }
    }

    /**
     * Activation range initialisation from one batch of this layer's input (the reference's first forward
     * with {@code use_act_quant}); with a split each quantizer sees its channel group.
     *
     * @param x the layer input
     */
    public void calibrateActivations(NDArray x) {
        try (NDManager sub = x.getManager().newSubManager()) {
            for (int g = 0; g < actQuantizers.size(); g++) {
                actQuantizers.get(g).calibrate(inputGroup(sub, x, g));
            }
        }
    }

    /**
     * Running-statistics update of the activation quantizer(s) from one more batch.
     *
     * @param x the layer input
     */
    public void observeActivations(NDArray x) {
        try (NDManager sub = x.getManager().newSubManager()) {
            for (int g = 0; g < actQuantizers.size(); g++) {
                actQuantizers.get(g).observe(inputGroup(sub, x, g));
            }
        }
    }

    /**
     * Freezes the weight quantizers (required calibrated) and every calibrated activation quantizer
     * (an uncalibrated one stays UNCALIBRATED: a forward pass that quantizes activations then throws),
     * and caches Q_w(W).
     *
     * @throws IllegalStateException when a weight quantizer is not calibrated
     */
    public void freeze() {
        for (WeightQuantizer q : weightQuantizers) {
            if (q.state() == QuantState.UNCALIBRATED) {
                throw new IllegalStateException("layer '" + name + "': weight quantizer '" + q.name()
                        + "' is not calibrated: call calibrateWeights() (or load its state) before freeze()");
            }
            q.freeze();
        }
        for (UniformAffineQuantizer q : actQuantizers) {
            if (q.state() != QuantState.UNCALIBRATED) {
                q.freeze();
            } else {
                LOG.debug("{}: activation quantizer {} left uncalibrated at freeze()", name, q.name());
            }
        }
        dropCache();
        cachedWeight = quantizedWeight(weight.getArray());
        cachedWeight.attach(manager);
        frozen = true;
    }

    /** @return true after {@link #freeze()} (until a weight quantizer is replaced) */
    public boolean isFrozen() {
        return frozen;
    }

    /**
     * Forward without a {@link ParameterStore} (the parameters are used where they are).
     *
     * @param x the input
     * @return the output, attached to x's manager
     */
    public NDArray forward(NDArray x) {
        return forwardWith(x, weight.getArray(), bias == null ? null : bias.getArray());
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        Device device = x.getDevice();
        NDArray w = parameterStore.getValue(weight, device, training);
        NDArray b = bias == null ? null : parameterStore.getValue(bias, device, training);
        return new NDList(forwardWith(x, w, b));
    }

    /**
     * The functional op f(x, W, b) (conv or linear with this layer's hyper-parameters).
     *
     * @param x the (possibly fake-quantized) input
     * @param w the (possibly fake-quantized) weight
     * @param b the bias or null
     * @return f(x, W, b) in x's manager
     */
    protected abstract NDArray apply(NDArray x, NDArray w, NDArray b);

    /** Frees the quantizers and the cached weight (not the caller's weight and bias). */
    @Override
    public void close() {
        for (WeightQuantizer q : weightQuantizers) {
            q.close();
        }
        for (UniformAffineQuantizer q : actQuantizers) {
            q.close();
        }
        manager.close();
    }

    private NDArray forwardWith(NDArray x, NDArray w, NDArray b) {
        NDManager caller = x.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray in = x;
            if (mode.quantizesActivations()) {
                for (UniformAffineQuantizer q : actQuantizers) {
                    if (q.state() == QuantState.UNCALIBRATED) {
                        throw new IllegalStateException("layer '" + name + "' runs in mode " + mode
                                + " but its activation quantizer '" + q.name() + "' is not calibrated: call "
                                + "calibrateActivations(x) (or load its state) before forward");
                    }
                }
                in = quantizedInput(sub, x);
            }
            NDArray weightUsed = w;
            if (mode.quantizesWeights()) {
                if (cachedWeight != null) {
                    weightUsed = cachedWeight.getDevice().equals(x.getDevice()) ? cachedWeight
                            : Tensors.own(sub, cachedWeight.toDevice(x.getDevice(), true));
                } else {
                    for (WeightQuantizer q : weightQuantizers) {
                        if (q.state() == QuantState.UNCALIBRATED) {
                            throw new IllegalStateException("layer '" + name + "' runs in mode " + mode
                                    + " but its weight quantizer '" + q.name() + "' is not calibrated: call "
                                    + "calibrateWeights() (or load its state) before forward");
                        }
                    }
                    weightUsed = Tensors.own(sub, quantizedWeight(w));
                }
            }
            NDArray out = apply(in, weightUsed, b);
            if (out.getManager() != caller) {
                out.attach(caller);
            }
            return out;
        }
    }

    /** Q_w(W), or concat(Q_w(W[:, :s]), Q_w0(W[:, s:])) along axis 1; a fresh array in w's manager. */
    private NDArray quantizedWeight(NDArray w) {
        if (split == 0) {
            return weightQuantizers.get(0).fakeQuantize(w);
        }
        NDManager owner = w.getManager();
        try (NDManager sub = owner.newSubManager()) {
            NDArray w0 = Tensors.own(sub, weightQuantizers.get(0).fakeQuantize(weightGroup(sub, w, 0)));
            NDArray w1 = Tensors.own(sub, weightQuantizers.get(1).fakeQuantize(weightGroup(sub, w, 1)));
            NDArray out = NDArrays.concat(new NDList(w0, w1), 1);
            out.attach(owner);
            return out;
        }
    }

    /** Q_a(x), or concat(Q_a(x[:, :s]), Q_a0(x[:, s:])) along the input-channel axis; in sub. */
    private NDArray quantizedInput(NDManager sub, NDArray x) {
        if (split == 0) {
            return Tensors.own(sub, actQuantizers.get(0).fakeQuantize(x));
        }
        int axis = Tensors.normalizeAxis(inputChannelAxis, x.getShape().dimension(), name);
        NDArray x0 = Tensors.own(sub, actQuantizers.get(0).fakeQuantize(inputGroup(sub, x, 0)));
        NDArray x1 = Tensors.own(sub, actQuantizers.get(1).fakeQuantize(inputGroup(sub, x, 1)));
        return NDArrays.concat(new NDList(x0, x1), axis);
    }

    /** W[:, :s] (g = 0) or W[:, s:] (g = 1), or W itself without a split; views owned by sub. */
    private NDArray weightGroup(NDManager sub, NDArray w, int g) {
        if (split == 0) {
            return w;
        }
        long in = w.getShape().get(1);
        return Tensors.own(sub, g == 0 ? Tensors.slice(w, 1, 0, split) : Tensors.slice(w, 1, split, in));
    }

    /** x[:, :s] (g = 0) or x[:, s:] (g = 1) along the input-channel axis, or x itself. */
    private NDArray inputGroup(NDManager sub, NDArray x, int g) {
        if (split == 0) {
            return x;
        }
        int axis = Tensors.normalizeAxis(inputChannelAxis, x.getShape().dimension(), name);
        long c = x.getShape().get(axis);
        return Tensors.own(sub, g == 0 ? Tensors.slice(x, axis, 0, split) : Tensors.slice(x, axis, split, c));
    }

    private void dropCache() {
        if (cachedWeight != null) {
            cachedWeight.close();
            cachedWeight = null;
        }
    }
}
