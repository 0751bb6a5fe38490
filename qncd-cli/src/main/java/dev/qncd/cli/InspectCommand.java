package dev.qncd.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.qncd.core.io.CheckpointFormat;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Safetensors;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qncd inspect}: lists the tensors of a checkpoint or array file. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"List the tensors of a checkpoint or array file (name, type, shape, element count).",
            "Reads safetensors, torch.save files (.ckpt/.pth/.pt, zip or legacy), .npz and .npy.",
            "Example: qncd inspect ema_cifar10.ckpt --filter 'down.0.*'"})
public final class InspectCommand implements Callable<Integer> {
    @Mixin CommonOptions common;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The file to inspect.")
    Path file;

    @Option(names = "--key", paramLabel = "PATH",
            description = "torch.save only: dotted path of the state dict inside the file (default: found automatically).")
    String key;

    @Option(names = "--filter", paramLabel = "GLOB",
            description = "Only list tensors whose name matches this glob ('*' any characters, '?' one).")
    String filter;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        CheckpointFormat format = CheckpointFormat.detect(file);
        List<Map<String, Object>> rows = new ArrayList<>();
        long total = 0;
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = Checkpoints.read(file, manager, key);
            String regex = filter == null ? null : globToRegex(filter);
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                if (regex != null && !e.getKey().matches(regex)) {
                    continue;
                }
                NDArray a = e.getValue();
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", e.getKey());
                row.put("dtype", a.getDataType().toString());
                row.put("shape", a.getShape().getShape());
                row.put("numel", a.size());
                rows.add(row);
                total += a.size();
            }
        }
        Map<String, String> metadata = format == CheckpointFormat.SAFETENSORS ? Safetensors.readMetadata(file) : Map.of();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("file", file.toString());
            doc.put("format", format.name());
            doc.put("tensors", rows);
            doc.put("total_elements", total);
            doc.put("metadata", metadata);
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc));
        } else {
            int w = rows.stream().mapToInt(r -> ((String) r.get("name")).length()).max().orElse(4);
            w = Math.max(w, 4);
            out.printf("%s (%s)%n", file, format);
            out.printf("%-" + w + "s  %-8s  %-20s  %s%n", "name", "dtype", "shape", "elements");
            for (Map<String, Object> r : rows) {
                out.printf("%-" + w + "s  %-8s  %-20s  %d%n", r.get("name"), r.get("dtype"),
                        java.util.Arrays.toString((long[]) r.get("shape")), (Long) r.get("numel"));
            }
            out.printf("%d tensors, %d elements%n", rows.size(), total);
            metadata.forEach((k, v) -> out.printf("metadata %s = %s%n", k, v.length() > 200 ? v.substring(0, 200) + "..." : v));
        }
        out.flush();
        return ExitCodes.OK;
    }

    static String globToRegex(String glob) {
        StringBuilder sb = new StringBuilder();
        for (char c : glob.toCharArray()) {
            switch (c) {
                case '*' -> sb.append(".*");
                case '?' -> sb.append('.');
                default -> sb.append(java.util.regex.Pattern.quote(String.valueOf(c)));
            }
        }
        return sb.toString();
    }
}
