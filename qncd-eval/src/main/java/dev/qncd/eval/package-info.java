/**
 * Image-quality evaluation: feature extractors (Inception-v3 as pytorch-fid ports it, or a
 * domain's own network) and metrics (FID, sFID, IS, precision/recall). Filled by the evaluator issue;
 * this module depends only on {@code qncd-core}.
 */
package dev.qncd.eval;
