/** Feature extractors: the pluggable interface and its outputs (pooled, spatial, logits). */
package dev.qncd.eval.features;
