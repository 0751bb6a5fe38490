/**
 * Core of qncd: tensors in, tensors out. Shared error types live here; checkpoint and array I/O in
 * {@link dev.qncd.core.io}, quantizers and quantized layers in {@link dev.qncd.core.quant}. No model
 * architectures belong in this module.
 */
package dev.qncd.core;
