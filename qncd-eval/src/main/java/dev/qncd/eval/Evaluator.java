package dev.qncd.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.qncd.core.QncdException;
import dev.qncd.core.util.ProgressLogger;
import dev.qncd.eval.EvaluatorConfig.Metric;
import dev.qncd.eval.features.FeatureExtractor;
import dev.qncd.eval.features.Features;
import dev.qncd.eval.io.EvalInput;
import dev.qncd.eval.io.EvalInputs;
import dev.qncd.eval.metrics.FrechetDistance;
import dev.qncd.eval.metrics.GaussianStats;
import dev.qncd.eval.metrics.InceptionScore;
import dev.qncd.eval.metrics.ManifoldPrecisionRecall;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ADM's evaluation pipeline: featurise the reference and the samples (or take their precomputed
 * features/statistics), then Inception Score of the samples, FID, sFID and precision/recall.
 * Metrics whose inputs are absent are skipped with a message in the report.
 */
public final class Evaluator {
    private static final Logger LOG = LoggerFactory.getLogger(Evaluator.class);

    private final EvaluatorConfig config;
    private final FeatureExtractor extractor;

    /**
     * @param config the settings
     * @param extractor featurises images; may be null when both inputs hold features or statistics
     */
    public Evaluator(EvaluatorConfig config, FeatureExtractor extractor) {
        this.config = config;
        this.extractor = extractor;
    }

    /**
     * Evaluates samples against a reference.
     *
     * @param reference reference batch (.npz) or image folder
     * @param samples sample batch (.npz) or image folder
     * @return the report
     * @throws IOException when an input cannot be read
     */
    public EvaluationReport evaluate(Path reference, Path samples) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            EvalInput ref = EvalInputs.read(reference, manager);
            EvalInput smp = EvalInputs.read(samples, manager);
            Features refF = featurise(ref, "reference");
            Features smpF = featurise(smp, "samples");
            List<String> skipped = new ArrayList<>();
            Double is = null;
            Double fid = null;
            Double sfid = null;
            Double precision = null;
            Double recall = null;
            if (config.metrics().contains(Metric.IS)) {
                if (smpF != null && smpF.logits() != null) {
                    is = InceptionScore.fromLogits(smpF.logits(), config.isSplitSize());
                } else {
                    skipped.add("Inception Score: the samples have no logits (the feature extractor gives none)");
                }
            }
            if (config.metrics().contains(Metric.FID)) {
                fid = frechet(ref, refF, smp, smpF, EvalInput::poolStats, Features::pool, "FID", skipped, manager);
            }
            if (config.metrics().contains(Metric.SFID)) {
                sfid = frechet(ref, refF, smp, smpF, EvalInput::spatialStats, Features::spatial, "sFID", skipped,
                        manager);
            }
            if (config.metrics().contains(Metric.PR)) {
                if (refF != null && smpF != null && refF.pool() != null && smpF.pool() != null) {
                    ManifoldPrecisionRecall.Result pr = new ManifoldPrecisionRecall(config.prK(),
                            config.prBatchSize(), ai.djl.ndarray.types.DataType.FLOAT32)
                            .compute(refF.pool(), smpF.pool());
                    precision = pr.precision();
                    recall = pr.recall();
                } else {
                    skipped.add("Precision/Recall: needs pool features of both sets (statistics alone are not enough)");
                }
            }
            skipped.forEach(s -> LOG.warn("skipped {}", s));
            return new EvaluationReport(is, fid, sfid, precision, recall, refF == null ? 0 : refF.count(),
                    smpF == null ? 0 : smpF.count(), List.copyOf(skipped));
        }
    }

    private Double frechet(EvalInput ref, Features refF, EvalInput smp, Features smpF,
            Function<EvalInput, GaussianStats> stats, Function<Features, NDArray> feats, String name,
            List<String> skipped, NDManager manager) {
        GaussianStats a = statsOf(smp, smpF, stats, feats);
        GaussianStats b = statsOf(ref, refF, stats, feats);
        if (a == null || b == null) {
            skipped.add(name + ": " + (a == null ? "the samples" : "the reference") + " have neither features nor"
                    + " statistics for it");
            return null;
        }
        long t = System.nanoTime();
        double v = FrechetDistance.compute(a, b, manager).value();
        LOG.info("{} = {} ({} ms)", name, v, (System.nanoTime() - t) / 1_000_000);
        return v;
    }

    private static GaussianStats statsOf(EvalInput in, Features f, Function<EvalInput, GaussianStats> stats,
            Function<Features, NDArray> feats) {
        GaussianStats s = stats.apply(in);
        if (s != null) {
            return s;
        }
        NDArray x = f == null ? null : feats.apply(f);
        return x == null ? null : GaussianStats.fromFeatures(x);
    }

    private Features featurise(EvalInput in, String what) {
        if (in.features() != null) {
            return in.features();
        }
        if (in.images() == null) {
            return null;
        }
        if (extractor == null) {
            throw new QncdException(in.source() + " holds images, which need a feature extractor: pass"
                    + " --inception-weights pt_inception-2015-12-05-6726825d.pth, or featurise them first");
        }
        NDArray images = in.images();
        long n = images.getShape().get(0);
        List<NDArray> pool = new ArrayList<>();
        List<NDArray> spatial = new ArrayList<>();
        List<NDArray> logits = new ArrayList<>();
        ProgressLogger progress = new ProgressLogger(LOG, "featurising " + what, "images", n, 5);
        for (long i = 0; i < n; i += config.batchSize()) {
            long end = Math.min(n, i + config.batchSize());
            NDArray batch = images.get(new NDIndex("{}:{}", i, end));
            Features f = extractor.extract(batch);
            add(pool, f.pool());
            add(spatial, f.spatial());
            add(logits, f.logits());
            progress.update(end);
        }
        return new Features(concat(pool), concat(spatial), concat(logits));
    }

    private static void add(List<NDArray> list, NDArray a) {
        if (a != null) {
            list.add(a.reshape(a.getShape().get(0), -1));
        }
    }

    private static NDArray concat(List<NDArray> parts) {
        if (parts.isEmpty()) {
            return null;
        }
        return parts.size() == 1 ? parts.get(0) : NDArrays.concat(new NDList(parts));
    }

    /** Alias, to keep the imports short. */
    private static final class NDArrays {
        static NDArray concat(NDList list) {
            return ai.djl.ndarray.NDArrays.concat(list, 0);
        }
    }
}
