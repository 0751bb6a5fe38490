package dev.qncd.core.quant;

/**
 * Life cycle of a quantizer. Transitions are explicit calls, never lazy initialisation inside a forward
 * pass: {@code UNCALIBRATED --calibrate(x)--> CALIBRATED --observe(x)*--> CALIBRATED --freeze()--> FROZEN}.
 * A quantizer restored from a checkpoint starts in the state it was saved in.
 */
public enum QuantState {
    /** No scale yet: {@code fakeQuantize} throws until {@code calibrate(x)} is called or state is loaded. */
    UNCALIBRATED,
    /** Scale and zero point set from data; running statistics ({@code observe}) may still refine them. */
    CALIBRATED,
    /** Parameters are final and read-only; only {@code fakeQuantize}/{@code quantizeToInt} are allowed. */
    FROZEN
}
