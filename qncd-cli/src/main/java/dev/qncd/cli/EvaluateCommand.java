package dev.qncd.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.qncd.core.QncdException;
import dev.qncd.core.util.AtomicFiles;
import dev.qncd.eval.EvaluationReport;
import dev.qncd.eval.Evaluator;
import dev.qncd.eval.EvaluatorConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qncd evaluate}: ADM's evaluator (Inception Score, FID, sFID, precision, recall). */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = {"Compare samples with a reference as OpenAI's ADM evaluator does: Inception Score, FID,",
            "sFID, precision and recall. Inputs: ADM .npz batches (arr_0 uint8 NHWC; a reference may carry",
            "mu/sigma and mu_s/sigma_s), .npz feature files (pool, spatial, logits), or folders of PNG/JPEG.",
            "Example: qncd evaluate VIRTUAL_imagenet256_labeled.npz samples.npz --out report.json"})
public final class EvaluateCommand implements Callable<Integer> {
    @Mixin CommonOptions common;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "REFERENCE", description = "Reference batch (.npz) or image folder.")
    Path reference;

    @Parameters(index = "1", paramLabel = "SAMPLES", description = "Sample batch (.npz) or image folder.")
    Path samples;

    @Option(names = {"--inception-weights", "--inception_weights"}, paramLabel = "PTH",
            description = "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (default: $QNCD_INCEPTION_WEIGHTS).")
    Path inceptionWeights;

    @Option(names = {"--batch-size", "--batch_size"}, paramLabel = "N", defaultValue = "64",
            description = "Images per feature-extractor batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--metrics", paramLabel = "LIST", split = ",", defaultValue = "fid,sfid,is,pr",
            description = "Metrics to compute, comma-separated from fid, sfid, is, pr (default: ${DEFAULT-VALUE}).")
    List<String> metrics;

    @Option(names = "--out", paramLabel = "JSON", description = "Also write the report as JSON (atomically).")
    Path out;

    @Override
    public Integer call() throws Exception {
        EnumSet<EvaluatorConfig.Metric> selected = EnumSet.noneOf(EvaluatorConfig.Metric.class);
        metrics.forEach(m -> selected.add(EvaluatorConfig.Metric.parse(m)));
        EvaluatorConfig d = EvaluatorConfig.DEFAULT;
        EvaluatorConfig config = new EvaluatorConfig(selected, batchSize, d.isSplitSize(), d.prK(), d.prBatchSize());
        Path weights = inceptionWeights;
        if (weights == null && System.getenv("QNCD_INCEPTION_WEIGHTS") != null) {
            weights = Path.of(System.getenv("QNCD_INCEPTION_WEIGHTS"));
        }
        if (weights != null) {
            throw new QncdException("the native Inception-v3 extractor is not implemented yet (issue 5, step 5):"
                    + " featurise the images elsewhere and pass .npz files with pool/spatial/logits arrays");
        }
        EvaluationReport r = new Evaluator(config, null).evaluate(reference, samples);
        PrintWriter pw = spec.commandLine().getOut();
        pw.println("Inception Score: " + fmt(r.inceptionScore()));
        pw.println("FID: " + fmt(r.fid()));
        pw.println("sFID: " + fmt(r.sfid()));
        pw.println("Precision: " + fmt(r.precision()));
        pw.println("Recall: " + fmt(r.recall()));
        r.skipped().forEach(s -> pw.println("skipped: " + s));
        pw.flush();
        if (out != null) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("reference", reference.toString());
            doc.put("samples", samples.toString());
            doc.put("inception_score", r.inceptionScore());
            doc.put("fid", r.fid());
            doc.put("sfid", r.sfid());
            doc.put("precision", r.precision());
            doc.put("recall", r.recall());
            doc.put("reference_count", r.referenceCount());
            doc.put("sample_count", r.sampleCount());
            doc.put("skipped", r.skipped());
            AtomicFiles.write(out, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(doc));
        }
        return ExitCodes.OK;
    }

    private static String fmt(Double v) {
        return v == null ? "n/a" : String.valueOf(v);
    }
}
