package dev.qncd.core.quant;

/**
 * What a quantized layer fake-quantizes in its forward pass (Q-Diffusion's
 * {@code set_quant_state(weight_quant, act_quant)}), switchable at run time.
 */
public enum QuantMode {
    /** Full precision: the original weight and bias, no activation quantization. */
    OFF(false, false),
    /** Weights fake-quantized, activations in full precision (the reference's W-only calibration phase). */
    WEIGHT(true, false),
    /** Activations fake-quantized, weights in full precision (for experiments only). */
    ACT(false, true),
    /** Weights and input activations fake-quantized (WxAy inference). */
    WEIGHT_ACT(true, true);

    private final boolean weights;
    private final boolean activations;

    QuantMode(boolean weights, boolean activations) {
        this.weights = weights;
        this.activations = activations;
    }

    /** @return true when the weight quantizer(s) are applied */
    public boolean quantizesWeights() {
        return weights;
    }

    /** @return true when the input activation quantizer(s) are applied */
    public boolean quantizesActivations() {
        return activations;
    }
}
