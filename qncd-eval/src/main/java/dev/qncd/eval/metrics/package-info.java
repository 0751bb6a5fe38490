/**
 * The metrics, in float64 where it matters: Fréchet distance (FID/sFID) with a pivoted Cholesky and a
 * symmetric eigen-solver instead of a matrix square root, Inception Score, and k-NN manifold
 * precision/recall, each following OpenAI's ADM evaluator (guided-diffusion evaluations/evaluator.py).
 */
package dev.qncd.eval.metrics;
