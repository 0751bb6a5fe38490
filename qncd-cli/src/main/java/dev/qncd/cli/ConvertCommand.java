package dev.qncd.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code qncd convert}: re-saves any readable checkpoint as safetensors or .npz. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Re-save a checkpoint (torch.save .ckpt/.pth, safetensors, .npz) as .safetensors or .npz,",
            "optionally casting floating-point tensors. Keys are kept exactly.",
            "Example: qncd convert model.ckpt model.safetensors --key state_dict --dtype float16"})
public final class ConvertCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ConvertCommand.class);

    /** Target type of floating-point tensors. */
    enum FloatType { keep, float32, float16 }

    @Mixin CommonOptions common;

    @Parameters(index = "0", paramLabel = "IN", description = "The checkpoint to read.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "Destination: *.safetensors or *.npz (written atomically).")
    Path out;

    @Option(names = "--key", paramLabel = "PATH",
            description = "torch.save only: dotted path of the state dict inside the file (default: found automatically).")
    String key;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "keep",
            description = "Cast floating-point tensors: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    FloatType dtype;

    @Override
    public Integer call() throws Exception {
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new QncdException("input and output are the same file (" + in + "): choose another output path");
        }
        long t0 = System.nanoTime();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = Checkpoints.read(in, manager, key);
            Map<String, NDArray> cast = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                NDArray a = e.getValue();
                if (dtype != FloatType.keep && a.getDataType().isFloating()) {
                    a = a.toType(dtype == FloatType.float16 ? DataType.FLOAT16 : DataType.FLOAT32, false);
                }
                cast.put(e.getKey(), a);
            }
            boolean npz = out.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".npz");
            Checkpoints.write(out, cast, npz ? Map.of() : Map.of("converted_from", in.getFileName().toString()));
            LOG.info("wrote {} tensors to {} in {} ms", cast.size(), out, (System.nanoTime() - t0) / 1_000_000);
        }
        return ExitCodes.OK;
    }
}
