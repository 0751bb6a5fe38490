/**
 * Building blocks shared by the model architectures: group normalisation, the layer factory that makes
 * every conv/linear a (possibly full-precision) quantized layer, and parameter lookup by original key.
 */
package dev.qncd.models.nn;
