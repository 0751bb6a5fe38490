package dev.qncd.eval;

import dev.qncd.core.QncdException;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * Settings of an evaluation.
 *
 * @param metrics which metrics to compute
 * @param batchSize images per feature-extractor batch (ADM: 64)
 * @param isSplitSize rows per Inception Score split (ADM: 5000)
 * @param prK neighbourhood size of precision/recall (ADM: 3)
 * @param prBatchSize rows/columns per distance block of precision/recall (ADM: 10000)
 */
public record EvaluatorConfig(Set<Metric> metrics, int batchSize, int isSplitSize, int prK, int prBatchSize) {
    /** The metrics ADM's evaluator prints. */
    public enum Metric {
        /** Inception Score. */ IS,
        /** Fréchet Inception Distance on pool features. */ FID,
        /** Fréchet distance on spatial features. */ SFID,
        /** Precision and recall. */ PR;

        /**
         * @param s a name, any case ({@code fid}, {@code sFID}, {@code is}, {@code pr})
         * @return the metric
         */
        public static Metric parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new QncdException("unknown metric '" + s + "': use fid, sfid, is or pr");
            }
        }
    }

    /** ADM's defaults: all metrics, batch 64, splits of 5000, k = 3, 10000-row distance blocks. */
    public static final EvaluatorConfig DEFAULT = new EvaluatorConfig(EnumSet.allOf(Metric.class), 64, 5000, 3, 10000);

    /** Validates the values. */
    public EvaluatorConfig {
        if (metrics == null || metrics.isEmpty()) {
            throw new QncdException("no metric selected: pass --metrics with some of fid,sfid,is,pr");
        }
        metrics = Set.copyOf(metrics);
        if (batchSize < 1) {
            throw new QncdException("--batch-size must be at least 1, got " + batchSize);
        }
        if (isSplitSize < 1 || prK < 1 || prBatchSize < 1) {
            throw new QncdException("split size, k and distance block size must be positive");
        }
    }
}
