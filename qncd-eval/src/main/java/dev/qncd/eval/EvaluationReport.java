package dev.qncd.eval;

import java.util.List;

/**
 * The numbers ADM's evaluator prints; a metric that was not requested or could not be computed is
 * {@code null}, and {@code skipped} says why.
 *
 * @param inceptionScore Inception Score of the samples
 * @param fid FID
 * @param sfid sFID
 * @param precision precision
 * @param recall recall
 * @param referenceCount images (or feature rows) on the reference side, 0 when only statistics were given
 * @param sampleCount images (or feature rows) on the sample side
 * @param skipped one line per skipped metric
 */
public record EvaluationReport(Double inceptionScore, Double fid, Double sfid, Double precision, Double recall,
        long referenceCount, long sampleCount, List<String> skipped) {}
